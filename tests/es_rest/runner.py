"""Replay one section of Elasticsearch's YAML REST tests through the real ``elasticsearch`` client.

Each ``do`` step calls the client method the API name designates (``indices.create`` is
``client.indices.create``) with the step's parameters and ``body``; a parameter the client does
not know is still sent, as a query parameter, through the client's own ``perform_request``.
``headers`` and ``ignore`` become ``client.options(...)``. ``catch`` expects an error (by status,
by a ``/regex/`` on the Java text of the ``error`` object, or ``param``: the client refusing the
call); ``warnings`` must all arrive, ``allowed_warnings`` may, anything else fails the step, as in
Java's ``DoSection``.

``skip``/``requires`` are judged against the server the runner talks to: its version (``GET /``),
its cluster features (``GET /_cluster/state/nodes_features``; ``gte_vX.Y.Z`` follow the
version), its capabilities (``GET /_capabilities``) and the runner features listed here.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from elastic_transport import ApiResponse, HeadApiResponse
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import JsonSerializer

from .checks import ASSERTIONS, CheckFailedError, run_assertion
from .stash import Stash, java_string, response_value
from .suite import Section

# Runner features this runner implements (skip.features / requires.test_runner_features).
RUNNER_FEATURES = frozenset(
    {
        "allowed_warnings",
        "allowed_warnings_regex",
        "capabilities",
        "close_to",
        "contains",
        "default_shards",
        "headers",
        "warnings",
        "warnings_regex",
        "yaml",
        "arbitrary_key",
        "stash_in_key",
        "stash_in_path",
        "stash_path_replace",
        "embedded_stash_key",
    }
)
_PARAM_ALIASES = {
    "_source": "source",
    "_source_includes": "source_includes",
    "_source_excludes": "source_excludes",
}
_PATH_PARTS = frozenset({"index", "id", "name", "alias", "target", "new_index"})
_CATCHES: dict[str, Callable[[int], bool]] = {
    "bad_request": lambda s: s == 400,
    "unauthorized": lambda s: s == 401,
    "forbidden": lambda s: s == 403,
    "missing": lambda s: s == 404,
    "request_timeout": lambda s: s == 408,
    "conflict": lambda s: s == 409,
    "gone": lambda s: s == 410,
    "unavailable": lambda s: s == 503,
    "request": lambda s: s >= 400 and s not in (400, 401, 403, 404, 408, 409, 410),
}
LEGACY_TEMPLATE_DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."
_WARNING = re.compile(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"(?: "[^"]*")?')
_EXTRA_PARAMS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "extra_params", default=None
)


class StepFailedError(AssertionError):
    """A step of the section failed (the message says which and why)."""


class YamlSerializer(JsonSerializer):
    """Reads ``application/yaml`` answers (the ``yaml`` runner feature)."""

    mimetype = "application/yaml"

    def loads(self, data: bytes) -> Any:
        """Parse a YAML response body."""
        return yaml.safe_load(data)


class RestClient(Elasticsearch):
    """The ``elasticsearch`` client, sending the query parameters it has no argument for as well."""

    def perform_request(self, method: str, path: str, **options: Any) -> ApiResponse[Any]:
        """The client's own request, with the step's extra parameters added to its query."""
        extra = _EXTRA_PARAMS.get()
        if extra:
            options["params"] = {**(options.get("params") or {}), **extra}
        return super().perform_request(method, path, **options)


def make_client(url: str) -> RestClient:
    """A client for the server at ``url`` that also reads YAML answers."""
    return RestClient(
        hosts=[url], request_timeout=30, max_retries=0, serializers={"application/yaml": YamlSerializer()}
    )


# ---- what the server declares -------------------------------------------------------------------


@dataclass
class ServerInfo:
    """The version, cluster features and capabilities the server declares (capabilities asked lazily)."""

    client: Elasticsearch
    version: tuple[int, int, int]
    features: frozenset[str]
    _capabilities: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def read(cls, client: Elasticsearch) -> ServerInfo:
        """Ask the server (``GET /`` and ``GET /_cluster/state/nodes_features``)."""
        number = str(client.info()["version"]["number"])
        version = _version(number)
        state = client.cluster.state(metric="nodes_features")
        features = {f for node in state.get("nodes_features", []) for f in node.get("features", [])}
        return cls(client, version, frozenset(features))

    def has_feature(self, name: str) -> bool:
        """Does the cluster have ``name`` (``gte_vX.Y.Z`` holds from that version on)?"""
        historical = re.fullmatch(r"gte_v(\d+)\.(\d+)\.(\d+)", name)
        if historical:
            return self.version >= _version(name[5:])
        return name in self.features

    def has_capabilities(self, spec: Mapping[str, Any]) -> bool:
        """Does the server answer ``supported: true`` for these capabilities of one endpoint?"""
        params = {
            "method": str(spec.get("method", "GET")),
            "path": str(spec["path"]),
            "parameters": ",".join(str(p) for p in spec.get("parameters") or []),
            "capabilities": ",".join(str(c) for c in spec.get("capabilities") or []),
        }
        key = json.dumps(params, sort_keys=True)
        if key not in self._capabilities:
            answer = self.client.perform_request("GET", "/_capabilities", params=params)
            self._capabilities[key] = answer.body.get("supported") is True
        return self._capabilities[key]


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(re.match(r"\d*", p).group() or 0) for p in text.strip().split(".")[:3]]  # type: ignore[union-attr]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _in_range(version: tuple[int, int, int], ranges: str) -> bool:
    for part in str(ranges).split(","):
        text = part.strip()
        if text == "all":
            return True
        low, _, high = text.partition("-")
        lower = _version(low) if low.strip() else (0, 0, 0)
        upper = _version(high) if high.strip() else (999, 999, 999)
        if lower <= version <= upper:
            return True
    return False


def prerequisite_problem(section: Section, info: ServerInfo) -> str | None:
    """Why the section's (or its setup's) ``skip``/``requires`` keep it from running, or None."""
    for steps in (section.setup, section.steps):
        for step in steps:
            ((kind, spec),) = step.items()
            if kind not in ("skip", "requires"):
                break
            problem = _skip_problem(spec, info) if kind == "skip" else _requires_problem(spec, info)
            if problem:
                return problem
    return None


def _skip_problem(spec: Mapping[str, Any], info: ServerInfo) -> str | None:
    if "version" in spec and _in_range(info.version, spec["version"]):
        return f"skip: version [{spec['version']}] ({spec.get('reason', '')})"
    missing = [f for f in _listed(spec.get("features")) if f not in RUNNER_FEATURES]
    if missing:
        return f"skip: runner features {missing} not implemented"
    present = [f for f in _listed(spec.get("cluster_features")) if info.has_feature(str(f))]
    if present:
        return f"skip: the cluster has {present} ({spec.get('reason', '')})"
    for capability in _listed(spec.get("capabilities")):
        if info.has_capabilities(capability):
            names = capability.get("capabilities")
            return f"skip: the server has capabilities {names} ({spec.get('reason', '')})"
    if spec.get("known_issues") or spec.get("awaits_fix"):
        return f"skip: {spec.get('reason', 'known issue')}"
    return None


def _requires_problem(spec: Mapping[str, Any], info: ServerInfo) -> str | None:
    missing = [f for f in _listed(spec.get("test_runner_features")) if f not in RUNNER_FEATURES]
    if missing:
        return f"requires runner features {missing}"
    lacking = [f for f in _listed(spec.get("cluster_features")) if not info.has_feature(str(f))]
    if lacking:
        return f"requires cluster features {lacking} ({spec.get('reason', '')})"
    for capability in _listed(spec.get("capabilities")):
        if not info.has_capabilities(capability):
            return f"requires capabilities {capability.get('capabilities')} ({spec.get('reason', '')})"
    return None


# ---- running a section --------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


class SectionRun:
    """Runs the steps of one section (setup, steps, teardown) with one stash."""

    def __init__(self, client: Elasticsearch) -> None:
        self.client = client
        self.stash = Stash()

    def run(self, section: Section) -> None:
        """Setup, the section's steps, then teardown (also after a failure)."""
        try:
            self.steps(section.setup, "setup")
            self.steps(section.steps, "")
        finally:
            self.steps(section.teardown, "teardown")

    def steps(self, steps: tuple[dict[str, Any], ...], where: str) -> None:
        """Run ``steps`` in order; a failure names the step."""
        for number, step in enumerate(steps, 1):
            ((kind, spec),) = step.items()
            try:
                self.step(kind, spec)
            except (CheckFailedError, StepFailedError, AssertionError) as error:
                label = f"{where} step {number}" if where else f"step {number}"
                raise StepFailedError(f"{label} ({kind} {_brief(spec)}): {error}") from error

    def step(self, kind: str, spec: Any) -> None:
        """One step: ``do``, ``set``, an assertion (prerequisites were judged before)."""
        if kind in ("skip", "requires"):
            return
        if kind == "do":
            self.do(dict(spec))
        elif kind == "set":
            for path, name in spec.items():
                self.stash.values[str(name)] = response_value(self.stash.body, path, self.stash)
        elif kind in ASSERTIONS:
            run_assertion(kind, spec, self.stash.body, self.stash)
        else:
            raise StepFailedError(f"unsupported step [{kind}]")

    def do(self, spec: dict[str, Any]) -> None:
        """One API call with its ``catch``, ``headers`` and warning expectations."""
        catch = spec.pop("catch", None)
        headers = spec.pop("headers", None)
        expected = [str(w) for w in spec.pop("warnings", None) or []]
        expected_regex = [re.compile(str(w)) for w in spec.pop("warnings_regex", None) or []]
        allowed = {str(w) for w in spec.pop("allowed_warnings", None) or []}
        allowed_regex = [re.compile(str(w)) for w in spec.pop("allowed_warnings_regex", None) or []]
        spec.pop("node_selector", None)
        if len(spec) != 1:
            raise StepFailedError(f"a do step names one API, got {sorted(spec)}")
        ((api, raw_args),) = spec.items()
        args = self.stash.replace(dict(raw_args or {}))
        ignored = [int(s) for s in _listed(args.get("ignore"))]
        try:
            reply = self.call(str(api), args, headers)
        except (TypeError, ValueError) as error:
            if catch == "param":
                return
            raise StepFailedError(f"the client refused the call: {error}") from error
        self.stash.body = reply.body
        if catch == "param":
            raise StepFailedError(f"expected the client to refuse the parameters, got {reply.status}")
        if catch is not None:
            self._check_catch(str(catch), reply)
            return
        head_missing = reply.status == 404 and isinstance(reply.body, bool)
        if reply.status >= 400 and not head_missing and reply.status not in ignored:
            raise StepFailedError(f"expected 2xx, got {reply.status}: {_brief(reply.body)}")
        self._check_warnings(_warnings(reply.headers), expected, expected_regex, allowed, allowed_regex)

    def call(self, api: str, args: dict[str, Any], headers: Mapping[str, str] | None) -> _Reply:
        """Call ``api`` through the client; errors come back as replies, not exceptions."""
        client: Elasticsearch = self.client
        ignore = args.pop("ignore", None)
        if headers:
            client = client.options(headers={str(k): str(v) for k, v in headers.items()})
        if ignore is not None:
            client = client.options(ignore_status=[int(s) for s in _listed(ignore)])
        function = _resolve(client, api)
        kwargs, extra = _arguments(function, api, args)
        token = _EXTRA_PARAMS.set(extra)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                response = function(**kwargs)
        except ApiError as error:
            return _Reply(int(error.meta.status), error.body, error.meta.headers)
        finally:
            _EXTRA_PARAMS.reset(token)
        if isinstance(response, HeadApiResponse):
            return _Reply(response.meta.status, bool(response), response.meta.headers)
        return _Reply(response.meta.status, response.body, response.meta.headers)

    def _check_catch(self, catch: str, reply: _Reply) -> None:
        if catch in _CATCHES:
            if not _CATCHES[catch](reply.status):
                raise StepFailedError(f"expected [{catch}] but got {reply.status}: {_brief(reply.body)}")
            return
        if len(catch) > 2 and catch.startswith("/") and catch.endswith("/"):
            if reply.status < 400:
                raise StepFailedError(
                    f"expected an error matching {catch}, got {reply.status}: {_brief(reply.body)}"
                )
            error = reply.body.get("error") if isinstance(reply.body, dict) else None
            if error is None:
                raise StepFailedError(f"no error in the response: {_brief(reply.body)}")
            if re.search(catch[1:-1], java_string(error)) is None:
                raise StepFailedError(f"error {java_string(error)} does not match {catch}")
            return
        raise StepFailedError(f"catch value [{catch}] not supported")

    @staticmethod
    def _check_warnings(
        received: list[str],
        expected: list[str],
        expected_regex: list[re.Pattern[str]],
        allowed: set[str],
        allowed_regex: list[re.Pattern[str]],
    ) -> None:
        missing = list(expected)
        missing_regex = list(expected_regex)
        unexpected = []
        for message in received:
            if message.endswith(LEGACY_TEMPLATE_DEPRECATION):
                continue  # DoSection drops these too: many tests still use legacy templates
            if message in allowed:
                continue
            if message in missing:
                missing.remove(message)
                continue
            hit = next((p for p in missing_regex if p.fullmatch(message)), None)
            if hit is not None:
                missing_regex.remove(hit)
                continue
            if any(p.fullmatch(message) for p in allowed_regex):
                continue
            unexpected.append(message)
        problems = []
        if unexpected:
            problems.append(f"unexpected warnings {unexpected}")
        if missing:
            problems.append(f"missing warnings {missing}")
        if missing_regex:
            problems.append(f"no warning matched {[p.pattern for p in missing_regex]}")
        if problems:
            raise StepFailedError("; ".join(problems))


def _resolve(client: Elasticsearch, api: str) -> Callable[..., Any]:
    target: Any = client
    for part in api.split("."):
        if not hasattr(target, part):
            raise StepFailedError(f"the client has no API [{api}]")
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


@cache
def _parameters(function: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(function).parameters)


@cache
def _body_fields(function: Callable[..., Any]) -> frozenset[str]:
    """The body fields the client's method writes (its generated ``__body["..."]`` assignments)."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return frozenset()
    return frozenset(re.findall(r'__body\["([^"]+)"\]', source))


def _arguments(
    function: Callable[..., Any], api: str, args: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    target = getattr(function, "__func__", function)
    known = _parameters(target)
    kwargs: dict[str, Any] = {}
    extra: dict[str, str] = {}
    body = _body(api, args["body"]) if "body" in args else None
    if body is not None:
        kwargs["body"] = body
    for name, value in args.items():
        if name == "body":
            continue
        if isinstance(body, dict) and name in _body_fields(target) and name not in body:
            body[name] = value  # the client ignores a body field given beside a body: send it in the body
        elif name in known or _PARAM_ALIASES.get(name) in known:
            kwargs[name] = str(value) if name in _PATH_PARTS and isinstance(value, int | float) else value
        else:
            extra[name] = _query_value(value)
    return kwargs, extra


def _body(api: str, value: Any) -> Any:
    if isinstance(value, str) and api != "bulk":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def _warnings(headers: Mapping[str, str]) -> list[str]:
    text = headers.get("warning") or headers.get("Warning")
    if not text:
        return []
    return [m.group(1).replace('\\"', '"').replace("\\\\", "\\") for m in _WARNING.finditer(text)]


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 600 else text[:600] + "..."
