"""Deployment files (compose, Dockerfile, .env.example, kibana/ NDJSON) stay valid and consistent.

No Docker engine is needed. docker-compose.yml is validated against the official Compose
Specification JSON schema (compose-spec/compose-spec, schema/compose-spec.json) as vendored by
the check-jsonschema package on PyPI, which must be installed with the test dependencies. The
one-shot setup scripts run under bash against a stand-in for curl.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hunter.config import load_settings
from hunter.kibana import generic_rule, rules_ndjson
from hunter.store.elasticsearch import alert_mappings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
DATA_VIEW_FILE = ROOT / "kibana" / "hunter-data-view.ndjson"
RULE_FILE = ROOT / "kibana" / "hunter-detection-rule.ndjson"

SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
SCHEMA_RESOURCE = "compose-spec.json"

ALERTS_PATTERN = "logs-hunter.alerts-*"
HUNTER_ENVIRONMENT = {
    "HUNTER_MODE",
    "HUNTER_ELASTICSEARCH__HOSTS",
    "HUNTER_ELASTICSEARCH__CA_CERTS",
    "HUNTER_ELASTICSEARCH__API_KEY_FILE",
    "HUNTER_SLACK__WEBHOOK_URL",
    "HUNTER_SLACK__KIBANA_URL",
    "HUNTER_SERVICE__PORT",
}
# The API key's role descriptor, privilege by privilege (justified in docker-compose.yml).
HUNTER_ROLE = {
    "cluster": {"manage_index_templates", "monitor"},
    "indices": {
        "logs-endpoint.events.*": {"read", "view_index_metadata"},
        "winlogbeat-*": {"read", "view_index_metadata"},
        "auditbeat-*": {"read", "view_index_metadata"},
        ALERTS_PATTERN: {"create_doc", "index", "auto_configure", "read", "view_index_metadata", "manage"},
        "hunter-state": {"create_index", "write", "read", "view_index_metadata"},
    },
}
# hunter's event.severity for low/medium/high/critical (ECS-style numeric severities).
SEVERITY_VALUES = {"21": "low", "47": "medium", "73": "high", "99": "critical"}

# Kibana's rule import schema (RuleToImport = BaseCreateProps + query-type props + optional
# ResponseFields): every key a rule NDJSON line may carry. An unknown key is rejected.
RULE_IMPORT_REQUIRED = {
    "rule_id",
    "version",
    "name",
    "description",
    "risk_score",
    "severity",
    "type",
    "query",
}
RULE_IMPORT_KEYS = RULE_IMPORT_REQUIRED | {
    # query rule
    "language",
    "index",
    "data_view_id",
    "filters",
    "saved_id",
    "alert_suppression",
    "response_actions",
    # common create fields
    "rule_name_override",
    "timestamp_override",
    "timestamp_override_fallback_disabled",
    "timeline_id",
    "timeline_title",
    "license",
    "note",
    "setup",
    "building_block_type",
    "output_index",
    "namespace",
    "meta",
    "investigation_fields",
    "tags",
    "enabled",
    "risk_score_mapping",
    "severity_mapping",
    "interval",
    "from",
    "to",
    "actions",
    "throttle",
    "exceptions_list",
    "author",
    "false_positives",
    "references",
    "max_signals",
    "threat",
    "related_integrations",
    "required_fields",
    # response fields that an export carries and the import ignores
    "id",
    "immutable",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "revision",
}
DATA_VIEW_REQUIRED = {"type", "id", "attributes", "references"}

# Compose interpolation: "$$" is a literal "$"; "$NAME" and "${NAME[op arg]}" read the
# environment (.env); any other "$" is an error for Compose.
_TEMPLATE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[^}]*)\}|(?P<invalid>))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)
_DURATION = re.compile(r"(?P<count>\d+)(?P<unit>[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _strings(node: Any) -> Iterator[str]:
    """Yield every string value in a parsed YAML/JSON tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _template_names(text: str) -> list[str]:
    """Return the variables that Compose interpolates in text; fail on an invalid template."""
    names = []
    for match in _TEMPLATE.finditer(text):
        if match["escaped"]:
            continue
        if match["named"]:
            names.append(match["named"])
            continue
        braced = _BRACED.fullmatch(match["braced"] or "")
        if match["invalid"] is not None or braced is None or "$" in (braced["arg"] or ""):
            pytest.fail(f"invalid or nested Compose template at {text[match.start() : match.start() + 40]!r}")
        names.append(braced["name"])
    return names


def _interpolate(text: str, env: Mapping[str, str]) -> str:
    """Interpolate text as Compose does with the given .env values."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"] or "")
        assert braced is not None, match[0]
        value, op, arg = env.get(braced["name"]), braced["op"], braced["arg"] or ""
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in {":-", "-"}:
            return arg if unset_or_empty else str(value)
        if op in {":?", "?"}:
            if unset_or_empty:
                pytest.fail(f"required variable {braced['name']} is missing: {arg}")
            return str(value)
        if op in {":+", "+"}:
            return "" if unset_or_empty else arg
        return value or ""

    return _TEMPLATE.sub(replace, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string value of a parsed compose file."""
    if isinstance(node, str):
        return _interpolate(node, env)
    if isinstance(node, Mapping):
        return {key: _interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(item, env) for item in node]
    return node


def _schema_errors(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Validate instance against the compose schema and return every error, readable."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    """Return a service's environment as a dict, from either the list or the mapping form."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _volume_mount(service: Mapping[str, Any], source: str) -> list[str]:
    """Return a service's mount of the named volume source as [source, target, options...]."""
    for volume in service.get("volumes", []):
        parts = str(volume).split(":")
        if parts[0] == source:
            return parts
    pytest.fail(f"volume {source} is not mounted")


def _script(service: Mapping[str, Any]) -> str:
    """Return a one-shot service's bash script as the container's shell receives it."""
    command = service["command"]
    assert command[:2] == ["bash", "-c"], command
    return str(command[2]).replace("$$", "$")


def _shell_assignments(script: str) -> dict[str, str]:
    """Return the NAME=value, NAME='...' and NAME="..." assignments that fill a script line."""
    found = {}
    pattern = r"^\s*(?P<name>[A-Z_]+)=(?P<value>'[^'\n]*'|\"[^\n]*\"|[^\s'\"]+)\s*$"
    for match in re.finditer(pattern, script, re.M):
        value = match["value"]
        if value[0] == "'":
            value = value[1:-1]
        elif value[0] == '"':
            value = value[1:-1].replace('\\"', '"')
        found[match["name"]] = value
    return found


def _seconds(duration: str) -> int:
    """Turn a Kibana rule duration ('5m', 'now-10m') into seconds."""
    match = _DURATION.fullmatch(duration.removeprefix("now-"))
    assert match is not None, duration
    return int(match["count"]) * _UNIT_SECONDS[match["unit"]]


def _ndjson(path: Path) -> list[dict[str, Any]]:
    """Parse an NDJSON file: one JSON object per non-empty line."""
    objects = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parsed = json.loads(line)
        assert isinstance(parsed, dict), f"{path.name}:{number} is not a JSON object"
        objects.append(parsed)
    return objects


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments) pairs, continuation lines joined."""
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


# A stand-in for curl that answers hunter-setup's requests like es01 would and logs them.
FAKE_CURL = r"""#!/usr/bin/env bash
method=GET url= body= out=
while [ $# -gt 0 ]; do
  case "$1" in
    -X) method=$2; shift 2 ;;
    -d) body=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -w|-u|-H|--cacert) shift 2 ;;
    https://es01:9200*) url=${1#https://es01:9200}; shift ;;
    *) shift ;;
  esac
done
printf '%s %s %s\n' "$method" "$url" "$body" >> "$FAKE_ES_LOG"
reply() { if [ -n "$out" ]; then printf '%s' "$1" > "$out"; else printf '%s' "$1"; fi; }
case "$method $url" in
  "GET /_cluster/health"*) reply '{"status":"yellow"}' ;;
  "GET /_security/_authenticate") reply '{}'; cat "$FAKE_ES_AUTH_STATUS" ;;
  "POST /_security/api_key")
    reply '{"id":"key1","name":"hunter","api_key":"secret","encoded":"a2V5MTpzZWNyZXQ="}' ;;
  "PUT /_security/api_key/key1") reply '{"updated":false}' ;;
  "DELETE /_security/api_key") reply '{"invalidated_api_keys":[]}' ;;
  *) echo "unexpected request: $method $url" >&2; exit 22 ;;
esac
"""
FAKE_ENCODED_KEY = "a2V5MTpzZWNyZXQ="  # base64 of "key1:secret", as Elasticsearch encodes it


@dataclass
class SetupRun:
    """What one run of hunter-setup did: exit status, output, and the requests it sent."""

    returncode: int
    output: str
    requests: list[str]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml."""
    parsed = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file's services."""
    result = compose["services"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    """The variables that .env.example documents, with their example values."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example line is not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema vendored by check-jsonschema."""
    try:
        text = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    except ModuleNotFoundError as exc:
        pytest.fail(f"install check-jsonschema (a test dependency) for the Compose schema: {exc}")
    schema = json.loads(text)
    assert isinstance(schema, dict)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def rule() -> dict[str, Any]:
    """The single detection rule in kibana/hunter-detection-rule.ndjson."""
    rules = [obj for obj in _ndjson(RULE_FILE) if "exported_count" not in obj]
    assert len(rules) == 1
    return rules[0]


@pytest.fixture
def hunter_setup(services: dict[str, Any], tmp_path: Path) -> Callable[[str], SetupRun]:
    """Run hunter-setup's script against a fake es01; the argument is _authenticate's HTTP status."""
    _, written_at, *_ = _volume_mount(services["hunter-setup"], "hunter-secrets")
    secrets = tmp_path / "secrets"
    workdir = tmp_path / "es-home"
    (workdir / "config" / "certs" / "ca").mkdir(parents=True)
    (workdir / "config" / "certs" / "ca" / "ca.crt").write_text("CA CERTIFICATE\n", encoding="utf-8")
    secrets.mkdir()
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "curl").write_text(FAKE_CURL, encoding="utf-8")
    (fake_bin / "curl").chmod(0o755)
    script = _script(services["hunter-setup"]).replace(f"{written_at}/", f"{secrets}/")
    log, status_file = tmp_path / "requests.log", tmp_path / "auth-status"

    def run(auth_status: str) -> SetupRun:
        log.write_text("", encoding="utf-8")
        status_file.write_text(auth_status, encoding="utf-8")
        env = {
            "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
            "ELASTIC_PASSWORD": "not-a-real-password",
            "HUNTER_UID": str(os.getuid()),
            "HUNTER_GID": str(os.getgid()),
            "FAKE_ES_LOG": str(log),
            "FAKE_ES_AUTH_STATUS": str(status_file),
        }
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        requests = log.read_text(encoding="utf-8").splitlines()
        return SetupRun(done.returncode, done.stdout + done.stderr, requests)

    return run


def _key_file(services: dict[str, Any], tmp_path: Path) -> Path:
    """Where the hunter_setup fixture's run leaves the API key file."""
    key_file = _shell_assignments(_script(services["hunter-setup"]))["KEY_FILE"]
    _, written_at, *_ = _volume_mount(services["hunter-setup"], "hunter-secrets")
    return tmp_path / "secrets" / Path(key_file).relative_to(written_at)


def test_compose_file_matches_compose_spec_schema(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    """docker-compose.yml as written validates against the Compose Specification schema."""
    assert _schema_errors(compose, compose_schema) == []


def test_interpolated_compose_file_matches_compose_spec_schema(
    compose: dict[str, Any], compose_schema: dict[str, Any], env_example: dict[str, str]
) -> None:
    """docker-compose.yml still validates after interpolation with the .env.example values."""
    assert _schema_errors(_interpolate_tree(compose, env_example), compose_schema) == []


def test_compose_schema_rejects_a_broken_file(compose_schema: dict[str, Any]) -> None:
    """The schema check is not vacuous: an unknown key and a wrongly typed value are reported."""
    broken = {"services": {"hunter": {"image": "hunter", "restrt": "always", "depends_on": 3}}}
    errors = _schema_errors(broken, compose_schema)
    assert any("restrt" in error for error in errors), errors
    assert any(error.startswith("services/hunter/depends_on") for error in errors), errors


def test_compose_variables_are_documented_in_env_example(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    """Every ${VAR} in docker-compose.yml is documented in .env.example; shell $ are escaped as $$."""
    used = {name for text in _strings(compose) for name in _template_names(text)}
    assert used, "the compose file interpolates no variable at all"
    assert sorted(used - env_example.keys()) == []


def test_env_example_holds_placeholders_not_secrets(env_example: dict[str, str]) -> None:
    """.env.example carries placeholders (refused by setup) or nothing for every secret."""
    secrets = {name: value for name, value in env_example.items() if re.search("PASSWORD|KEY|WEBHOOK", name)}
    expected = {"ELASTIC_PASSWORD", "KIBANA_PASSWORD", "KIBANA_ENCRYPTION_KEY", "HUNTER_SLACK__WEBHOOK_URL"}
    assert set(secrets) >= expected
    for name, value in secrets.items():
        assert value == "" or value.startswith("changeme"), name
    assert re.fullmatch(r"[89]\.\d+\.\d+", env_example["STACK_VERSION"])


@pytest.mark.parametrize(
    ("name", "value"),
    [("ELASTIC_PASSWORD", "changeme"), ("KIBANA_PASSWORD", "changeme"), ("KIBANA_ENCRYPTION_KEY", "short")],
)
def test_setup_refuses_placeholder_or_weak_secrets(services: dict[str, Any], name: str, value: str) -> None:
    """The setup service stops before anything else while a secret is a placeholder or too short."""
    script = _script(services["setup"])
    checks = script.split("if [ ! -f config/certs/ca.zip ]")[0]
    good = {
        "ELASTIC_PASSWORD": "s3cretElastic",
        "KIBANA_PASSWORD": "s3cretKibana",
        "KIBANA_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef",
    }
    accepted = subprocess.run(["bash", "-c", checks], env=good, capture_output=True, text=True, check=False)
    assert accepted.returncode == 0, accepted.stdout
    refused = subprocess.run(
        ["bash", "-c", checks], env={**good, name: value}, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert name in refused.stdout


def test_hunter_environment_names(services: dict[str, Any]) -> None:
    """The hunter service sets exactly the environment variables hunter reads."""
    assert set(_environment(services["hunter"])) == HUNTER_ENVIRONMENT


def test_hunter_environment_points_at_the_secured_cluster(services: dict[str, Any]) -> None:
    """hunter talks TLS to es01 with the CA and API key file that hunter-setup writes."""
    hunter, setup = services["hunter"], services["hunter-setup"]
    env = _environment(hunter)
    assert env["HUNTER_MODE"] == "elasticsearch"
    assert json.loads(env["HUNTER_ELASTICSEARCH__HOSTS"]) == ["https://es01:9200"]
    _, mounted_at, *options = _volume_mount(hunter, "hunter-secrets")
    _, written_at, *_ = _volume_mount(setup, "hunter-secrets")
    assert options == ["ro"]
    script = _script(setup)
    key_file = _shell_assignments(script)["KEY_FILE"]
    assert env["HUNTER_ELASTICSEARCH__API_KEY_FILE"] == key_file.replace(written_at, mounted_at, 1)
    assert env["HUNTER_ELASTICSEARCH__CA_CERTS"] == f"{mounted_at}/ca.crt"
    assert f"{written_at}/ca.crt" in script


def test_hunter_service_is_built_supervised_and_health_checked(services: dict[str, Any]) -> None:
    """hunter is built from the Dockerfile, waits for hunter-setup, restarts, and probes /healthz."""
    hunter = services["hunter"]
    assert hunter["build"]["context"] == "."
    assert hunter["build"]["dockerfile"] == "Dockerfile"
    assert hunter["depends_on"]["hunter-setup"]["condition"] == "service_completed_successfully"
    assert hunter["depends_on"]["es01"]["condition"] == "service_healthy"
    assert hunter["restart"] == "unless-stopped"
    assert "mem_limit" in hunter
    test = " ".join(hunter["healthcheck"]["test"])
    assert "/healthz" in test
    assert "curl" not in test
    assert _environment(hunter)["HUNTER_SERVICE__PORT"] == "9750"


def test_stack_follows_elastics_secured_compose_example(services: dict[str, Any]) -> None:
    """setup/es01/kibana keep the TLS, healthcheck, depends_on and mem_limit wiring of Elastic's example."""
    assert {"setup", "es01", "kibana", "hunter-setup", "hunter"} <= set(services)
    es_image = "docker.elastic.co/elasticsearch/elasticsearch:${STACK_VERSION"
    for name in ("setup", "es01", "hunter-setup"):
        assert services[name]["image"].startswith(es_image), name
    assert services["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:${STACK_VERSION")
    assert "elasticsearch-certutil" in _script(services["setup"])
    assert "_security/user/kibana_system/_password" in _script(services["setup"])
    assert services["es01"]["depends_on"]["setup"]["condition"] == "service_healthy"
    assert services["kibana"]["depends_on"]["es01"]["condition"] == "service_healthy"
    assert services["hunter-setup"]["depends_on"]["es01"]["condition"] == "service_healthy"
    es_env = _environment(services["es01"])
    for setting in (
        "xpack.security.enabled",
        "xpack.security.http.ssl.enabled",
        "xpack.security.transport.ssl.enabled",
    ):
        assert es_env[setting] == "true", setting
    kibana_env = _environment(services["kibana"])
    assert kibana_env["ELASTICSEARCH_HOSTS"].startswith("https://")
    assert "XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY" in kibana_env
    for name in ("setup", "es01", "kibana"):
        assert "healthcheck" in services[name], name
    for name in ("es01", "kibana"):
        assert "mem_limit" in services[name], name


def test_hunter_setup_creates_a_minimal_key_on_first_run(
    hunter_setup: Callable[[str], SetupRun], services: dict[str, Any], tmp_path: Path
) -> None:
    """First run: hunter-setup creates one API key with exactly the documented privileges."""
    run = hunter_setup("401")
    assert run.returncode == 0, run.output
    creates = [request for request in run.requests if request.startswith("POST /_security/api_key ")]
    assert len(creates) == 1
    body = json.loads(creates[0].split(" ", 2)[2])
    assert body["name"] == "hunter"
    role = body["role_descriptors"]["hunter"]
    assert set(role) == {"cluster", "indices"}
    assert set(role["cluster"]) == HUNTER_ROLE["cluster"]
    granted = {name: set(entry["privileges"]) for entry in role["indices"] for name in entry["names"]}
    assert granted == HUNTER_ROLE["indices"]
    key_file = _key_file(services, tmp_path)
    assert key_file.read_text(encoding="utf-8") == FAKE_ENCODED_KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o400
    assert (key_file.parent / "ca.crt").read_text(encoding="utf-8") == "CA CERTIFICATE\n"


def test_hunter_setup_rerun_keeps_and_rescopes_a_valid_key(
    hunter_setup: Callable[[str], SetupRun], services: dict[str, Any], tmp_path: Path
) -> None:
    """A re-run with a still-valid key succeeds, keeps the key and re-applies its privileges."""
    assert hunter_setup("401").returncode == 0
    rerun = hunter_setup("200")
    assert rerun.returncode == 0, rerun.output
    assert not any(request.startswith("POST /_security/api_key") for request in rerun.requests)
    updates = [request for request in rerun.requests if request.startswith("PUT /_security/api_key/key1 ")]
    assert len(updates) == 1
    assert json.loads(updates[0].split(" ", 2)[2])["role_descriptors"]["hunter"]["cluster"]
    assert _key_file(services, tmp_path).read_text(encoding="utf-8") == FAKE_ENCODED_KEY


def test_hunter_setup_replaces_a_rejected_key(hunter_setup: Callable[[str], SetupRun]) -> None:
    """A key that Elasticsearch rejects (401) is invalidated by name and replaced by a new one."""
    assert hunter_setup("401").returncode == 0
    replaced = hunter_setup("401")
    assert replaced.returncode == 0, replaced.output
    methods = [request.split(" ", 2)[:2] for request in replaced.requests]
    assert ["DELETE", "/_security/api_key"] in methods
    assert methods.index(["DELETE", "/_security/api_key"]) < methods.index(["POST", "/_security/api_key"])


def test_hunter_setup_leaves_the_key_alone_when_unsure(
    hunter_setup: Callable[[str], SetupRun], services: dict[str, Any], tmp_path: Path
) -> None:
    """An unexpected answer from _authenticate fails the run without rotating the key."""
    assert hunter_setup("401").returncode == 0
    unsure = hunter_setup("503")
    assert unsure.returncode != 0
    assert not any(request.startswith(("POST", "DELETE", "PUT")) for request in unsure.requests)
    assert _key_file(services, tmp_path).read_text(encoding="utf-8") == FAKE_ENCODED_KEY


def test_dockerfile_runs_hunter_as_non_root_with_healthcheck() -> None:
    """The image ends as a non-root user, probes /healthz without curl, and runs `hunter run`."""
    instructions = _dockerfile_instructions()
    final_stage = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    args = dict(
        arguments.split("=", 1) for keyword, arguments in final_stage if keyword == "ARG" and "=" in arguments
    )
    users = [arguments for keyword, arguments in final_stage if keyword == "USER"]
    assert users, "no USER instruction in the final stage"
    user = re.sub(r"\$\{(\w+)\}", lambda match: args.get(match[1], match[0]), users[-1]).split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit() or user.isidentifier(), user
    healthchecks = [arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    probe = healthchecks[0]
    assert "/healthz" in probe
    assert "curl" not in probe
    assert "wget" not in probe
    command = json.loads(probe.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    cmds = [arguments for keyword, arguments in instructions if keyword == "CMD"]
    assert json.loads(cmds[-1]) == ["hunter", "run"]


def test_dockerfile_installs_the_package_and_ships_runtime_files() -> None:
    """The image pip-installs the repo and copies queries/, templates/, settings.toml and a writable var/."""
    instructions = _dockerfile_instructions()
    runs = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs)
    copies = [shlex.split(arguments) for keyword, arguments in instructions if keyword == "COPY"]
    copied = {source for parts in copies for source in parts[:-1] if not source.startswith("--")}
    assert {"queries/", "templates/", "settings.toml"} <= copied
    assert re.search(r"mkdir -p [\w ]*\bvar\b[\w ]*&& chown", runs)
    workdirs = [arguments for keyword, arguments in instructions if keyword == "WORKDIR"]
    assert workdirs[-1] == "/app"


def test_the_images_defaults_name_only_what_the_image_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run on its own (no Compose), the image's settings (settings.toml under the image's ENV) name only
    files and folders the image copies or creates under /app, and it starts in embedded mode."""
    instructions = _dockerfile_instructions()
    final_stage = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    held: set[str] = set()
    for keyword, arguments in final_stage:
        if keyword == "COPY" and not arguments.startswith("--from"):
            *_sources, target = shlex.split(arguments)
            held.add(Path(target.rstrip("/")).name if target not in {"./", "."} else "")
            held.update(source.rstrip("/") for source in _sources if target in {"./", "."})
        if keyword == "RUN" and (made := re.search(r"mkdir -p ([\w ./-]+?)(?:&&|$)", arguments)):
            held.update(made.group(1).split())
    held.discard("")
    assert {"queries", "templates", "settings.toml", "var", "events"} <= held
    for keyword, arguments in final_stage:
        if keyword == "ENV":
            for assignment in shlex.split(arguments):
                name, _, value = assignment.partition("=")
                if name.startswith("HUNTER_"):
                    monkeypatch.setenv(name, value)
    settings = load_settings(ROOT / "settings.toml")
    assert settings.mode == "embedded"
    named = [*settings.queries, settings.templates, *settings.embedded.events, settings.embedded.state.parent]
    for path in named:
        assert path.relative_to(ROOT).parts[0] in held, path


def test_readme_lists_the_docker_hosts_vm_max_map_count() -> None:
    """README tells operators to set vm.max_map_count as Elastic's Docker production page requires."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Install") : readme.index("### Permissions")]
    assert "vm.max_map_count=1048576" in section
    assert "sysctl" in section


def test_compose_comments_agree_with_the_alert_mapping() -> None:
    """The compose file never says new fields update the alert mapping: it is "dynamic": false."""
    assert alert_mappings()["dynamic"] is False
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "mapping dynamically" not in text
    assert '"dynamic": false' in text


def test_license_is_the_apache_license_pyproject_declares() -> None:
    """LICENSE holds the Apache License 2.0 text that pyproject.toml declares, and reaches the image."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    assert declared == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text
    assert "!LICENSE" in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()


def test_dockerignore_keeps_secrets_out_of_the_build_context() -> None:
    """.dockerignore excludes everything by default and never re-includes .env or var/."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    reincluded = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    assert {"pyproject.toml", "hunter", "queries", "templates", "settings.toml"} <= reincluded
    assert not reincluded & {".env", "var", ".git"}


@pytest.mark.parametrize("path", [DATA_VIEW_FILE, RULE_FILE], ids=lambda path: path.name)
def test_kibana_ndjson_lines_are_json_objects(path: Path) -> None:
    """Each line of a kibana/ NDJSON file is one JSON object, and the file is not empty."""
    assert _ndjson(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line inside the NDJSON file"


def test_data_view_is_an_importable_saved_object() -> None:
    """The data view saved object targets logs-hunter.alerts-* with @timestamp as time field."""
    objects = _ndjson(DATA_VIEW_FILE)
    assert len(objects) == 1
    data_view = objects[0]
    assert set(data_view) >= DATA_VIEW_REQUIRED
    assert data_view["type"] == "index-pattern"
    assert data_view["attributes"]["title"] == ALERTS_PATTERN
    assert data_view["attributes"]["timeFieldName"] == "@timestamp"
    assert data_view["references"] == []


def test_rule_has_the_import_schema_keys(rule: dict[str, Any]) -> None:
    """The rule carries every key the rule import requires and no key the import schema lacks."""
    assert set(rule) >= RULE_IMPORT_REQUIRED
    assert sorted(set(rule) - RULE_IMPORT_KEYS) == []
    assert rule.get("immutable", False) is False
    assert rule["type"] == "query"
    assert rule["language"] == "kuery"
    assert rule["index"] == [ALERTS_PATTERN]
    assert rule["query"] == 'event.kind: "alert" and hunter.first_write: true and hunter.hunt.id: *'


def test_rule_file_is_what_hunter_exports(rule: dict[str, Any]) -> None:
    """kibana/hunter-detection-rule.ndjson is the generic rule `hunter export kibana` writes (regenerate
    it with hunter.kibana.generic_rule after changing the rule)."""
    assert rule == generic_rule()
    assert RULE_FILE.read_text(encoding="utf-8") == rules_ndjson([generic_rule()])


def test_rule_severity_mapping_covers_the_four_severities(rule: dict[str, Any]) -> None:
    """event.severity 21/47/73/99 map exactly to low/medium/high/critical with 'equals'."""
    mapping = rule["severity_mapping"]
    assert {item["field"] for item in mapping} == {"event.severity"}
    assert {item["operator"] for item in mapping} == {"equals"}
    assert {item["value"]: item["severity"] for item in mapping} == SEVERITY_VALUES
    assert len(mapping) == len(SEVERITY_VALUES)
    assert rule["severity"] in SEVERITY_VALUES.values()


def test_rule_overrides_come_from_hunters_alert(rule: dict[str, Any]) -> None:
    """Risk score, name and timestamp of the promoted alert come from hunter's own fields."""
    assert rule["risk_score_mapping"] == [{"field": "event.risk_score", "operator": "equals", "value": ""}]
    assert 0 <= rule["risk_score"] <= 100
    assert rule["rule_name_override"] == "rule.name"
    assert rule["timestamp_override"] == "event.ingested"
    assert rule.get("timestamp_override_fallback_disabled", False) is False


def test_rule_schedule_has_lookback(rule: dict[str, Any]) -> None:
    """The rule's window reaches further back than its interval, so no alert falls between runs."""
    assert rule["from"].startswith("now-")
    assert _seconds(rule["from"]) > _seconds(rule["interval"])
    assert rule.get("to", "now") == "now"


def test_the_readmes_alerting_rules_name_metrics_hunter_exports() -> None:
    """Every metric the README's Prometheus alerting rules use is one hunter exports, and each rule
    has the shape Prometheus expects (alert and expr)."""
    from prometheus_client import generate_latest

    from hunter.metrics import Metrics

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(groups:\n.*?)```", readme, re.DOTALL)
    assert block is not None
    rules = yaml.safe_load(block.group(1))["groups"][0]["rules"]
    metrics = Metrics()
    exported = generate_latest(metrics.registry).decode()
    names = set(re.findall(r"^# TYPE (\S+) (\w+)", exported, re.MULTILINE))
    known = {name for name, _kind in names} | {f"{name}_total" for name, kind in names if kind == "counter"}
    assert rules and all(set(rule) >= {"alert", "expr"} for rule in rules)
    for rule in rules:
        used = set(re.findall(r"\bhunter_\w+", rule["expr"]))
        assert used and used <= known, (rule["alert"], used - known)
