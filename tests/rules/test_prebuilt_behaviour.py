"""Elastic's prebuilt rules, loaded as shipped, match what they should over realistic events, and only that.

Each test loads one real rule file from ../shared/detection-rules with the loader, builds events
from the rule's own query in the shapes the sources write (Elastic Defend: the endpoint-package
``sample_event.json`` files in ../shared/telemetry, with array ``event.category``/``event.type``,
seven-digit fractions, base64 entity ids and ``data_stream.*`` naming the rule's index pattern;
Auditbeat/auditd manager and Okta as their integrations write them), and runs them through the
embedded search (``EventFiles`` + ``LocalSearcher``). Every event says why it must or must not match.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hunter.config import SearchSettings
from hunter.hunts import Hunt, load_hunt_set
from hunter.search.local import EventFiles, LocalSearcher
from tests.conftest import write_ndjson
from tests.rules.conftest import DETECTION_RULES

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AGENT_ID = "4c9c9cb3-f80f-44d8-9c89-6168243b7f21"

Host = Mapping[str, Any]
LINUX: Host = {"id": "9d4e1b72-6c3a-4f0e-8b25-e17a3c90d6f4", "name": "dev-ubuntu-14", "os": "linux"}
LINUX_2: Host = {"id": "1c0ffee0-6c3a-4f0e-8b25-e17a3c90d6f4", "name": "build-ubuntu-02", "os": "linux"}
WINDOWS: Host = {"id": "2beebb8e-e5f0-46ca-8635-97ba7bb8ccca", "name": "data-viz-win-1", "os": "windows"}
MACOS: Host = {"id": "7f3c2a10-9b1d-4e8f-a6c5-0d2e4b6a8c91", "name": "dana-mbp", "os": "macos"}
OS_NAMES = {"linux": ("Linux", "ubuntu"), "windows": ("Windows", "windows"), "macos": ("macOS", "darwin")}


@pytest.fixture(autouse=True)
def _rules(detection_rules: Path) -> None:
    """Every test here reads ../shared/detection-rules (skipped when absent)."""


def prebuilt(relative: str) -> Hunt:
    """The one hunt of a rule file of ../shared/detection-rules, loaded as the service loads it."""
    hunt_set = load_hunt_set([DETECTION_RULES / relative])
    (hunt,) = hunt_set.hunts
    assert hunt_set.warnings == []
    return hunt


def at(seconds: float) -> str:
    """T0 + seconds as Elastic Defend writes @timestamp: seven fraction digits."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def put(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted field in a nested document."""
    *parents, last = dotted.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value


def entity_id(host: Host, pid: int) -> str:
    """An Endpoint entity id: base64 of '<agent id>-<pid>-<start, seconds since 1601>'."""
    return base64.b64encode(f"{host['id']}-{pid}-13439639643.{pid:07d}".encode()).decode()


def event(
    event_id: str,
    seconds: float,
    dataset: str,
    *,
    module: str,
    category: str,
    types: Sequence[str],
    action: str,
    host: Host | None,
    fields: Mapping[str, Any],
    agent: str = "endpoint",
) -> dict[str, Any]:
    """One document: ECS envelope, ``data_stream`` for the rule's index pattern, then ``fields``."""
    document: dict[str, Any] = {
        "@timestamp": at(seconds),
        "agent": {"id": AGENT_ID, "type": agent, "version": "9.1.4"},
        "data_stream": {"type": "logs", "dataset": dataset, "namespace": "default"},
        "ecs": {"version": "8.11.0"},
        "event": {
            "id": event_id,
            "kind": "event",
            "module": module,
            "dataset": dataset,
            "category": [category],
            "type": list(types),
            "action": action,
            "created": at(seconds),
            "ingested": at(seconds + 10)[:19] + "Z",
        },
    }
    if host is not None:  # cloud audit logs describe no host
        os_name, family = OS_NAMES[host["os"]]
        document["host"] = {
            "id": host["id"],
            "name": host["name"],
            "hostname": host["name"],
            "os": {"type": host["os"], "family": family, "name": os_name},
        }
    for dotted, value in fields.items():
        put(document, dotted, value)
    return document


def defend(
    event_id: str,
    seconds: float,
    kind: str,
    action: str,
    types: Sequence[str],
    fields: Mapping[str, Any],
    *,
    host: Host = LINUX,
) -> dict[str, Any]:
    """An Elastic Defend event of ``logs-endpoint.events.<kind>-default``."""
    category = {"security": "authentication"}.get(kind, kind)
    return event(
        event_id,
        seconds,
        f"endpoint.events.{kind}",
        module="endpoint",
        category=category,
        types=types,
        action=action,
        host=host,
        fields=fields,
    )


def process(
    event_id: str, seconds: float, name: str, args: Sequence[str], *, host: Host = LINUX, **extra: Any
) -> dict[str, Any]:
    """An Elastic Defend process start (exec on Linux/macOS, start on Windows) of ``name``."""
    pid = int(extra.pop("pid", 48377))
    fields = {
        "process.name": name,
        "process.executable": extra.pop("executable", f"/usr/bin/{name}"),
        "process.args": list(args),
        "process.args_count": len(args),
        "process.command_line": " ".join(args),
        "process.pid": pid,
        "process.entity_id": entity_id(host, pid),
        "process.parent.pid": 1200,
        "process.parent.entity_id": entity_id(host, 1200),
        "process.parent.name": "bash",
        "user.id": "1000",
        "user.name": "dana",
    }
    fields.update({key.replace("__", "."): value for key, value in extra.items()})
    action = "start" if host["os"] == "windows" else "exec"
    return defend(event_id, seconds, "process", action, ["start"], fields, host=host)


def matches(hunt: Hunt, tmp_path: Path, events: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Each match of the hunt's query over ``events`` as the ``event.id``s of its events, sorted."""
    files = EventFiles([write_ndjson(tmp_path / "events.ndjson", events)])
    (result,) = LocalSearcher(files, SearchSettings()).search(hunt, None)
    assert result.error is None
    assert files.stats.bad_lines == 0
    return sorted(tuple(str(e.source["event"]["id"]) for e in match.events) for match in result.matches)


# ---- event queries ----------------------------------------------------------------------------------


def test_sdelete_rename_colon_is_case_insensitive_and_double_equals_is_not(tmp_path: Path) -> None:
    """`file.name : "*AAA.AAA"` ignores case; `host.os.type == "windows"`, `event.type == "change"` do not."""
    hunt = prebuilt("rules/windows/defense_evasion_sdelete_like_filename_rename.toml")

    def rename(event_id: str, name: str, types: Sequence[str] = ("change",)) -> dict[str, Any]:
        path = f"C:\\Users\\dana\\Documents\\{name}"
        fields = {"file.name": name, "file.path": path, "process.name": "sdelete64.exe"}
        return defend(event_id, 0, "file", "rename", types, fields, host=WINDOWS)

    upper_os = rename("os-spelt-Windows", "AAAAAAAAAA.AAA")
    upper_os["host"]["os"]["type"] = "Windows"
    events = [
        rename("renamed", "AAAAAAAAAA.AAA"),  # sdelete's rename pattern: matches
        rename("lower-case", "aaaaaaaaaa.aaa"),  # `:` is case-insensitive: matches
        upper_os,  # `host.os.type == "windows"` is case-sensitive: no match
        rename("created", "AAAAAAAAAA.AAA", ("creation",)),  # event.type must contain "change"
        rename("suffixed", "AAA.AAA.txt"),  # the wildcard must reach the end of the name
    ]
    assert matches(hunt, tmp_path, events) == [("lower-case",), ("renamed",)]


def test_ad_explorer_optional_field_matches_when_present_and_is_null_when_absent(tmp_path: Path) -> None:
    """`?process.pe.original_file_name == "AdExp"`: a renamed binary matches; no field is just null."""
    hunt = prebuilt("rules/windows/discovery_ad_explorer_execution.toml")
    exe = "C:\\Users\\dana\\Downloads\\{}"
    events = [
        # renamed AD Explorer: only the PE original file name gives it away
        process("renamed", 0, "tool.exe", ["tool.exe"], host=WINDOWS, executable=exe.format("tool.exe"),
                process__pe__original_file_name="AdExp"),
        # `:` with a wildcard, case-insensitive, matches without any PE field
        process("by-name", 1, "adexplorer64.EXE", ["adexplorer64.EXE"], host=WINDOWS,
                executable=exe.format("adexplorer64.EXE")),
        # no PE field and another name: the optional field is null, so no match (and no error)
        process("plain", 2, "tool.exe", ["tool.exe"], host=WINDOWS, executable=exe.format("tool.exe")),
        # `==` is case-sensitive: "adexp" is not "AdExp"
        process("case", 3, "tool.exe", ["tool.exe"], host=WINDOWS, executable=exe.format("tool.exe"),
                process__pe__original_file_name="adexp"),
    ]  # fmt: skip
    assert matches(hunt, tmp_path, events) == [("by-name",), ("renamed",)]


def test_ollama_api_cidrmatch_keeps_only_external_sources(tmp_path: Path) -> None:
    """`not cidrmatch(source.ip, private ranges...)`: IPv4 and IPv6 sources outside them match."""
    hunt = prebuilt("rules/cross-platform/initial_access_ollama_api_external_access.toml")

    def accepted(event_id: str, source_ip: str, port: int = 11434, name: str = "ollama") -> dict[str, Any]:
        fields = {
            "process.name": name,
            "process.executable": f"/usr/local/bin/{name}",
            "process.pid": 812,
            "process.entity_id": entity_id(LINUX, 812),
            "source.ip": source_ip,
            "source.port": 51544,
            "destination.ip": "10.0.4.17",
            "destination.port": port,
            "network.direction": "ingress",
            "network.transport": "tcp",
            "network.type": "ipv6" if ":" in source_ip else "ipv4",
        }
        return defend(event_id, 0, "network", "connection_accepted", ["start"], fields)

    events = [
        accepted("internet-v4", "203.0.113.7"),  # outside every listed range: matches
        accepted("internet-v6", "2001:db8::7"),  # IPv6 outside ::1, fe80::/10, fc00::/7, ff00::/8: matches
        accepted("private", "10.20.30.40"),  # 10.0.0.0/8
        accepted("cgnat", "100.64.12.1"),  # 100.64.0.0/10
        accepted("link-local-v6", "fe80::1c2b:3aff:fe4d:5e6f"),  # fe80::/10
        accepted("unspecified", "0.0.0.0"),  # source.ip != "0.0.0.0"
        accepted("other-port", "198.51.100.9", port=8080),  # destination.port must be 11434
        accepted("other-name", "198.51.100.9", name="Ollama"),  # `in` is case-sensitive
    ]
    assert matches(hunt, tmp_path, events) == [("internet-v4",), ("internet-v6",)]


def test_bifrost_in_tilde_and_like_tilde_ignore_case(tmp_path: Path) -> None:
    """`process.args in~ ("tickets", "keytab")` and `like~` match any argument, whatever its case."""
    hunt = prebuilt("rules/macos/lateral_movement_credential_access_kerberos_bifrostconsole.toml")

    def bifrost(event_id: str, *args: str) -> dict[str, Any]:
        return process(event_id, 0, "bifrost", ["./bifrost", *args], host=MACOS, executable="/tmp/bifrost")

    events = [
        bifrost("dump-tickets", "-action", "dump", "-source", "Tickets"),  # in~ ignores case: matches
        bifrost("askhash", "-Action", "AskHash", "-username", "dana"),  # like~ ignores case: matches
        bifrost("dump-memory", "-action", "dump", "-source", "memory"),  # dump needs tickets or keytab
        bifrost("list", "-action", "list"),  # no Kerberos action at all
    ]
    assert matches(hunt, tmp_path, events) == [("askhash",), ("dump-tickets",)]


def test_space_after_filename_regex_whitespace_is_lucenes(tmp_path: Path) -> None:
    """`regex~ "/[a-z0-9\\s_\\-\\\\./]+\\s"`: \\s is Lucene's [ \\t\\n\\r]; the whole path must match."""
    hunt = prebuilt("rules/cross-platform/defense_evasion_masquerading_space_after_filename.toml")

    def run(event_id: str, executable: str, name: str, host: Host = LINUX) -> dict[str, Any]:
        return process(event_id, 0, name, [executable], executable=executable, host=host)

    events = [
        run("space", "/tmp/.x11-unix/sshd ", "sshd "),  # a trailing space: matches
        run("macos", "/private/tmp/invoice.pdf ", "invoice.pdf ", MACOS),  # host.os.type : (..., "macos")
        run("tab", "/tmp/sshd\t", "sshd\t"),  # a tab is whitespace for Lucene too: matches
        run("nbsp", "/tmp/sshd\u00a0", "sshd\u00a0"),  # U+00A0 is not in Lucene's \s: no match
        run("no-space", "/usr/bin/python3", "python3"),  # the whole path must match: no trailing whitespace
        run("excluded", "/tmp/ls ", "ls"),  # the rule's own exclusion of process.name "ls"
    ]
    assert matches(hunt, tmp_path, events) == [("macos",), ("space",), ("tab",)]


def test_pid_file_executable_regex_word_class_is_ascii(tmp_path: Path) -> None:
    """`regex~ "/var/run/\\w+\\.(pid|lock|reboot)"` as root: \\w is Lucene's [a-zA-Z_0-9] only."""
    hunt = prebuilt("rules/linux/execution_process_started_from_process_id_file.toml")

    def run(event_id: str, executable: str, user: str = "0") -> dict[str, Any]:
        name = executable.rsplit("/", 1)[-1]
        return process(
            event_id, 0, name, [executable], executable=executable, user__id=user, user__name="root"
        )

    events = [
        run("pid", "/var/run/kdevtmpfsi.pid"),  # a miner started from a .pid file: matches
        run("upper-case", "/var/run/Cron.LOCK"),  # regex~ ignores case: matches
        run("dash", "/var/run/a-b.pid"),  # '-' is not a word character
        run("accent", "/var/run/café.pid"),  # 'é' is not in Lucene's \w
        run("subfolder", "/var/run/sub/x.pid"),  # '/' is not a word character
        run("not-root", "/var/run/x.pid", user="1000"),  # user.id == "0" only
    ]
    assert matches(hunt, tmp_path, events) == [("pid",), ("upper-case",)]


def test_unquoted_service_path_colon_ignores_case_and_regex_does_not(tmp_path: Path) -> None:
    """`: "?:\\\\Program.exe"` ignores case; the `regex` alternative over Program Files is case-sensitive."""
    hunt = prebuilt("rules/windows/privilege_escalation_unquoted_service_path.toml")

    def run(event_id: str, executable: str) -> dict[str, Any]:
        name = executable.rsplit("\\", 1)[-1]
        return process(event_id, 0, name, [executable], host=WINDOWS, executable=executable)

    events = [
        run("program-exe", "C:\\Program.exe"),  # the unquoted-path hijack itself: matches
        run("other-drive", "d:\\PROGRAM.EXE"),  # `?` is any drive, `:` ignores case: matches
        run("program-files", "C:\\Program Files\\Evil.exe"),  # regex: one word-named exe directly inside
        run("x86", "C:\\Program Files (x86)\\Evil.exe"),  # the regex's (x86) alternative
        run("lower-case", "c:\\program files\\evil.exe"),  # `regex` is case-sensitive: no match
        run("deeper", "C:\\Program Files\\Common Files\\x.exe"),  # a space is not \w: no match
    ]
    assert matches(hunt, tmp_path, events) == [
        ("other-drive",),
        ("program-exe",),
        ("program-files",),
        ("x86",),
    ]


def test_building_block_wbemtest_loads_marked_and_matches(tmp_path: Path) -> None:
    """A building-block rule loads with its marker and its hourly schedule, and alerts like any other."""
    hunt = prebuilt("rules_building_block/execution_wmi_wbemtest.toml")
    assert hunt.building_block is True
    assert (hunt.interval_ns, hunt.lookback_ns) == (3600 * 10**9, 59 * 60 * 10**9)  # now-119m every 60m
    exe = "C:\\Windows\\System32\\wbem\\WBEMTest.exe"
    events = [
        process("started", 0, "WBEMTest.exe", [exe], host=WINDOWS, executable=exe),  # `:` ignores case
        process("other", 1, "wmic.exe", ["wmic.exe"], host=WINDOWS, executable="C:\\Windows\\wmic.exe"),
    ]
    assert matches(hunt, tmp_path, events) == [("started",)]


# ---- sequences and samples ----------------------------------------------------------------------------


def test_strace_after_sshd_sequence_joins_by_host_within_maxspan(tmp_path: Path) -> None:
    """`sequence by host.id with maxspan=3s`: same host, the second within 3 s (inclusive), in order."""
    hunt = prebuilt("rules/linux/credential_access_ssh_password_grabbing_via_strace.toml")

    def sshd_end(event_id: str, seconds: float, host: Host) -> dict[str, Any]:
        fields = {"process.name": "sshd", "process.pid": 2201, "process.entity_id": entity_id(host, 2201)}
        return defend(event_id, seconds, "process", "end", ["end"], fields, host=host)

    def strace(event_id: str, seconds: float, host: Host) -> dict[str, Any]:
        return process(
            event_id, seconds, "strace", ["strace", "-f", "-p", "2201", "-e", "trace=write"], host=host
        )

    other: Host = {**LINUX_2, "id": "5e5e5e5e-0000-4000-8000-000000000000", "name": "jump-03"}
    events = [
        sshd_end("a-sshd", 0, LINUX),
        strace("a-strace", 2, LINUX),  # same host, 2 s later: matches with a-sshd
        sshd_end("b-sshd", 10, LINUX_2),
        strace("b-strace", 14, LINUX_2),  # 4 s later: beyond maxspan
        sshd_end("c-sshd", 20, other),
        strace("c-strace-elsewhere", 21, LINUX),  # another host: sequences join by host.id
        sshd_end("d-sshd", 30, other),
        strace("d-strace", 33, other),  # exactly 3 s later: maxspan is inclusive, matches
        strace("e-strace-first", 40, LINUX_2),
        sshd_end("e-sshd-after", 41, LINUX_2),  # the wrong order: no match
    ]
    assert matches(hunt, tmp_path, events) == [("a-sshd", "a-strace"), ("d-sshd", "d-strace")]


def test_looney_tunables_runs_needs_five_execs_of_one_parent_within_five_seconds(tmp_path: Path) -> None:
    """`[...] with runs=5`, by host, parent and executable, maxspan=5s: five matching execs, no fewer."""
    hunt = prebuilt("rules/linux/privilege_escalation_looney_tunables_cve_2023_4911.toml")
    tunables = "GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    def exploit(event_id: str, seconds: float, parent: int) -> dict[str, Any]:
        return process(
            event_id, seconds, "su", ["/usr/bin/su", "--help"], executable="/usr/bin/su",
            pid=9000 + int(seconds * 10), process__env_vars=["PATH=/usr/bin", tunables],
            process__parent__entity_id=entity_id(LINUX, parent), process__parent__pid=parent,
        )  # fmt: skip

    burst = [exploit(f"burst-{n}", n, 4100) for n in range(5)]  # five in 4 s from one parent: matches
    short = [exploit(f"short-{n}", 10 + n, 4200) for n in range(4)]  # four are not five
    slow = [exploit(f"slow-{n}", 20 + 2 * n, 4300) for n in range(5)]  # five, but over 8 s
    plain = process("no-env", 1.5, "su", ["/usr/bin/su"], executable="/usr/bin/su", pid=9999,
                    process__parent__entity_id=entity_id(LINUX, 4100))  # fmt: skip  # no GLIBC_TUNABLES
    assert matches(hunt, tmp_path, [*burst, *short, *slow, plain]) == [tuple(f"burst-{n}" for n in range(5))]


def test_okta_push_bombing_runs_until_a_successful_login(tmp_path: Path) -> None:
    """`[deny push] with runs=5 until [successful login]` by actor within 10m: a success resets the run."""
    hunt = prebuilt("rules/integrations/okta/credential_access_okta_mfa_bombing_via_push_notifications.toml")

    def okta(
        event_id: str, seconds: float, actor: str, event_type: str, result: str, **extra: str
    ) -> dict[str, Any]:
        fields = {
            "okta.actor.id": actor,
            "okta.actor.alternate_id": f"{actor}@example.com",
            "okta.event_type": event_type,
            "okta.outcome.result": result,
            "okta.outcome.reason": extra.get("reason"),
            "okta.debug_context.debug_data.factor": extra.get("factor"),
            "source.ip": "198.51.100.23",
            "user.name": f"{actor}@example.com",
        }
        present = {key: value for key, value in fields.items() if value is not None}
        return event(
            event_id, seconds, "okta.system", module="okta", category="authentication", types=["info"],
            action=event_type, host=LINUX, fields=present, agent="filebeat",
        )  # fmt: skip

    deny = "user.mfa.okta_verify.deny_push"
    bombed = [okta(f"a-{n}", 30 * n, "00u1a", deny, "DENY") for n in range(5)]  # five denials: matches
    reset = [
        *[okta(f"b-{n}", 30 * n, "00u2b", deny, "DENY") for n in range(3)],
        okta("b-login", 100, "00u2b", "user.authentication.sso", "SUCCESS"),  # until: the partial run ends
        *[okta(f"b-{n}", 100 + 30 * n, "00u2b", deny, "DENY") for n in range(3, 5)],  # only two after it
    ]
    mixed = [
        *[okta(f"c-{n}", 30 * n, "00u3c", deny, "DENY") for n in range(4)],
        # a rejected push answered with a wrong password counts as the fifth (the rule's `or` branch);
        # its result is not SUCCESS, so it is no `until` event
        okta("c-4", 120, "00u3c", "user.authentication.auth_via_mfa", "FAILURE",
             reason="INVALID_CREDENTIALS", factor="OKTA_VERIFY_PUSH"),
    ]  # fmt: skip
    assert matches(hunt, tmp_path, [*bombed, *reset, *mixed]) == [
        tuple(f"a-{n}" for n in range(5)),
        tuple(f"c-{n}" for n in range(5)),
    ]


def test_meterpreter_sample_needs_all_five_opens_by_one_process(tmp_path: Path) -> None:
    """`sample by host.id, process.pid, user.id` of five opens: all five, in any order, by one process."""
    hunt = prebuilt("rules/linux/execution_shell_via_meterpreter_linux.toml")
    paths = [
        "/etc/machine-id",
        "/etc/passwd",
        "/proc/net/route",
        "/proc/net/ipv6_route",
        "/proc/net/if_inet6",
    ]

    def opened(event_id: str, seconds: float, pid: int, path: str, a2: str = "1b6") -> dict[str, Any]:
        fields = {
            "auditd.data.syscall": "open",
            "auditd.data.a2": a2,
            "auditd.data.exit": "3",
            "auditd.result": "success",
            "file.path": path,
            "process.pid": pid,
            "process.name": "mettle",
            "process.executable": "/tmp/.mettle",
            "user.id": "0",
        }
        return event(
            event_id, seconds, "auditd_manager.auditd", module="auditd", category="file", types=["info"],
            action="opened-file", host=LINUX, fields=fields, agent="auditbeat",
        )  # fmt: skip

    shell = [opened(f"s-{n}", n, 4242, path) for n, path in enumerate(reversed(paths))]  # any order: matches
    partial = [opened(f"p-{n}", n, 5151, path) for n, path in enumerate(paths[:4])]  # no /proc/net/if_inet6
    flags = [opened(f"f-{n}", n, 6161, path, a2="0" if n == 1 else "1b6") for n, path in enumerate(paths)]
    (match,) = matches(
        hunt, tmp_path, [*shell, *partial, *flags]
    )  # /etc/passwd opened with other flags: none
    assert sorted(match) == [f"s-{n}" for n in range(5)]


def test_missing_events_after_an_endpoint_alert_need_silence_within_five_minutes(tmp_path: Path) -> None:
    """`[endpoint alert] ![any process/file/... event]` by host within 5m: an alert followed by silence."""
    hunt = prebuilt("rules/cross-platform/defense_evasion_missing_events_after_alert.toml")

    def alert(event_id: str, seconds: float, host: Host) -> dict[str, Any]:
        fields = {"process.name": "xmrig", "rule.name": "Linux.Trojan.Generic"}
        document = event(
            event_id, seconds, "endpoint.alerts", module="endpoint", category="malware",
            types=["info", "denied"], action="execution", host=host, fields=fields,
        )  # fmt: skip
        document["event"]["kind"] = "alert"
        return document

    quiet, busy, other = LINUX, LINUX_2, {**LINUX_2, "id": "5e5e5e5e-0000-4000-8000-000000000000"}
    events = [
        alert("quiet-alert", 0, quiet),
        defend("quiet-later", 360, "file", "creation", ["creation"], {"file.path": "/tmp/x"}, host=quiet),
        alert("busy-alert", 0, busy),
        process("busy-process", 60, "sh", ["sh", "-c", "id"], host=busy),  # events keep coming: no match
        alert("other-alert", 0, other),
        defend("other-login", 30, "security", "log_on", ["start"], {"user.name": "dana"}, host=other),
    ]
    # quiet: its next event is 6 minutes later, past maxspan; other: an authentication event is not
    # one of the categories the missing stage lists; busy: a process event 1 minute later
    assert matches(hunt, tmp_path, events) == [("other-alert",), ("quiet-alert",)]


def test_s3_versioning_suspended_reads_its_event_category_from_event_type(tmp_path: Path) -> None:
    """`event_category_override = "event.type"`: the rule's `info where` tests event.type, not category."""
    hunt = prebuilt("rules/integrations/aws/impact_s3_object_versioning_disabled.toml")
    assert hunt.event_category_field == "event.type"

    def cloudtrail(
        event_id: str, status: str, types: Sequence[str] = ("info",), outcome: str = "success"
    ) -> dict[str, Any]:
        fields = {
            "event.provider": "s3.amazonaws.com",
            "event.outcome": outcome,
            "aws.cloudtrail.request_parameters": f"{{bucketName=backups-prod, Status={status}}}",
            "cloud.provider": "aws",
            "cloud.region": "eu-west-1",
            "user.name": "ci-deployer",
        }
        return event(
            event_id, 0, "aws.cloudtrail", module="aws", category="configuration", types=types,
            action="PutBucketVersioning", host=None, fields=fields, agent="filebeat",
        )  # fmt: skip

    events = [
        cloudtrail("suspended", "Suspended"),  # event.type "info" is the category here: matches
        cloudtrail("enabled", "Enabled"),  # versioning switched on, not off
        cloudtrail("typed-change", "Suspended", types=("change",)),  # event.type holds no "info"
        cloudtrail("failed", "Suspended", outcome="failure"),  # the call did not succeed
    ]
    assert matches(hunt, tmp_path, events) == [("suspended",)]
