"""Typed settings: ``settings.toml`` overridden by ``HUNTER_*`` environment variables.

Nested settings use ``__`` in variable names (``HUNTER_ELASTICSEARCH__HOSTS``). Secrets (API key,
password, Slack webhook URL) are accepted only from the environment, held as ``SecretStr`` and
never logged. Relative paths are resolved against the settings file's folder.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import typing
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from .errors import ConfigError

DEFAULT_CONFIG = Path("settings.toml")
SECRET_KEYS = {("elasticsearch", "api_key"), ("elasticsearch", "password"), ("slack", "webhook_url")}

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_SECONDS_RE = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        if _SECONDS_RE.match(value):  # a bare number of seconds, as in TOML (environment values are text)
            return timedelta(seconds=float(value))
    raise ValueError(f"expected a duration such as '30s', '5m', '1h' or '2d', got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _no_path(value: Any) -> Any:
    """An empty path means none."""
    return None if value in ("", None) else value


def _paths(value: Any) -> Any:
    """One path, a list of paths, or (from the environment) a path or a JSON list of paths."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a JSON list of paths: {exc}") from exc
        return [value]
    if isinstance(value, Path):
        return [value]
    return value


_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _url_problem(text: str, *, plain_http_local_only: bool) -> str | None:
    """Why ``text`` is not a usable http(s) URL (None when it is)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        example = (
            "https://hooks.slack.com/services/..." if plain_http_local_only else "https://kibana.example:5601"
        )
        return f"must be an http(s) URL with a host (for example {example})"
    if plain_http_local_only and parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        return "must use https (plain http is allowed only to 127.0.0.1 or localhost)"
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedSettings(_Section):
    """Local event files, the embedded engine and SQLite state."""

    events: list[Path] = Field(default_factory=lambda: [Path("samples/events")])
    state: Path = Path("var/hunter.sqlite3")
    # skip lines that cannot match any hunt's first stage before parsing them (no result changes);
    # false parses and checks every line (bad lines are then found and counted everywhere)
    prefilter: bool = True
    # Elasticsearch index mappings (JSON: GET <index>/_mapping) whose multi-fields the searches use
    # (process.executable.caseless and the like); without one Elastic's .caseless/.text are assumed
    mappings: list[Path] = Field(default_factory=list)


class SearchSettings(_Section):
    """How events are searched, in both modes."""

    timestamp_field: str = "@timestamp"
    timestamp_override: str | None = None  # e.g. "event.ingested"; falls back to timestamp_field
    event_category_field: str = "event.category"
    tiebreaker_field: str | None = None
    size: int = Field(1000, ge=1, le=10_000)  # per Elasticsearch request; capped windows are split
    min_split: Duration = timedelta(seconds=1)  # narrowest window a capped search is split into
    retries: int = Field(3, ge=0)
    retry_backoff: Duration = timedelta(seconds=1)


class ElasticsearchSettings(_Section):
    """The cluster hunted and written to in ``elasticsearch`` mode."""

    hosts: list[str] = Field(default_factory=lambda: ["https://localhost:9200"])
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    alerts_data_stream: str = "logs-hunter.alerts-default"
    state_index: str = "hunter-state"
    lease: Duration = timedelta(minutes=10)

    @field_validator("alerts_data_stream")
    @classmethod
    def _data_stream_name(cls, value: str) -> str:
        if not re.fullmatch(r"logs-[a-z0-9_.]+-[a-z0-9_.]+", value):
            raise ValueError("must be a logs-<dataset>-<namespace> data stream name")
        return value


class ScheduleSettings(_Section):
    """Which time range each run covers."""

    ingest_delay: Duration = timedelta(minutes=1)
    initial_lookback: Duration = timedelta(hours=24)
    max_catchup: Duration = timedelta(minutes=30)  # longer gaps are worked off in interval chunks
    windows_per_tick: int = Field(6, ge=1)
    # how long shard failures hold a hunt's checkpoint (the window is searched again each run)
    # before it moves on with the healthy shards' results
    incomplete_retry: Duration = timedelta(hours=1)
    misfire_grace: Duration = timedelta(minutes=1)
    jitter: Duration = timedelta(seconds=5)
    # against Elasticsearch, the hunts of one schedule's tick run this many at a time
    concurrency: int = Field(10, ge=1)


class SlackSettings(_Section):
    """Slack notices (console notices when no webhook is set)."""

    webhook_url: SecretStr | None = None
    kibana_url: str | None = None
    building_block_notices: bool = False  # building-block hunts (Elastic's) alert without a notice

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return value
        problem = _url_problem(value.get_secret_value(), plain_http_local_only=True)
        if problem:
            raise ValueError(problem)  # the value itself is a secret: never in the message
        return value

    @field_validator("kibana_url")
    @classmethod
    def _kibana(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        problem = _url_problem(value, plain_http_local_only=False)
        if problem:
            raise ValueError(f"{problem}: {value!r}")
        return value.rstrip("/")

    digest_after: int = Field(5, ge=1)
    min_interval: float = Field(1.0, ge=0)
    timeout: float = Field(10.0, gt=0)
    max_attempts: int = Field(3, ge=1)


def _forever(value: Any) -> Any:
    """``"forever"`` (or empty) means no retention: kept until removed by hand."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "forever")):
        return None
    return parse_duration(value)


class RetentionSettings(_Section):
    """How long what hunter writes is kept."""

    # the alert data stream's lifecycle (Elasticsearch data stream lifecycle ``data_retention``;
    # backing indices roll over and are deleted this long after); "forever" keeps them
    alerts: Annotated[timedelta | None, BeforeValidator(_forever)] = timedelta(days=365)
    # sent notices and expired leases in the state store are deleted this long after they were done
    state: Duration = timedelta(days=30)


class ServiceSettings(_Section):
    """The long-running service: health and metrics endpoint, logs."""

    host: str = "127.0.0.1"
    port: int = Field(9750, ge=0, le=65535)
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout: Duration = timedelta(seconds=25)  # under Kubernetes' default 30 s grace period


class Settings(BaseSettings):
    """All of hunter's settings."""

    model_config = SettingsConfigDict(
        env_prefix="HUNTER_",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    mode: Literal["embedded", "elasticsearch"] = "embedded"
    # hunt files and folders (searched recursively): one path or a list; HUNTER_QUERIES takes a
    # path or a JSON list of paths
    queries: Annotated[list[Path], NoDecode, BeforeValidator(_paths)] = Field(
        default_factory=lambda: [Path("queries")]
    )
    templates: Path = Path("templates")
    # hunt files parsed and generated code compiled once, kept between runs ("": none kept)
    code_cache: Annotated[Path | None, BeforeValidator(_no_path)] = Path("var/code-cache")
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over the settings file (passed as init values by :func:`load_settings`)."""
        return (env_settings, init_settings)

    def api_key(self) -> str | None:
        """The Elasticsearch API key, from the environment or the configured key file."""
        if self.elasticsearch.api_key is not None:
            return self.elasticsearch.api_key.get_secret_value()
        path = self.elasticsearch.api_key_file
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"elasticsearch.api_key_file: cannot read {path}: {exc.strerror}") from exc


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file (default ``settings.toml``) and the environment; one-line errors."""
    config_path = path or DEFAULT_CONFIG
    values: dict[str, Any] = {}
    if config_path.exists():
        try:
            with config_path.open("rb") as handle:
                values = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except OSError as exc:
            raise ConfigError(f"{config_path}: {exc.strerror}") from exc
        for section, key in SECRET_KEYS:
            if isinstance(values.get(section), dict) and key in values[section]:
                env = f"HUNTER_{section.upper()}__{key.upper()}"
                raise ConfigError(
                    f"{config_path}: {section}.{key} is a secret; set it in the environment as {env}"
                )
    elif path is not None:
        raise ConfigError(f"{config_path}: settings file not found")
    unknown = [problem for nested, problem in _unknown_environment() if nested]
    if unknown:
        raise ConfigError("environment: " + "; ".join(unknown))
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path)) from None
    except SettingsError as exc:
        # pydantic-settings could not parse an environment value (a list or table must be JSON)
        raise ConfigError(f"environment: {_environment_problem(exc)}") from None
    return _resolve_paths(settings, config_path.resolve().parent)


# Variables docker-compose.yml reads from .env for itself, never passed to hunter as settings.
_COMPOSE_VARIABLES = frozenset({"HUNTER_UID", "HUNTER_GID", "HUNTER_PORT", "HUNTER_MEM_LIMIT"})
# What Kubernetes injects for a Service named "hunter" (service links, on by default).
_KUBERNETES_VARIABLE = re.compile(r"HUNTER_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)\w*)?)")


def settings_warnings(settings: Settings) -> list[str]:
    """Settings that are allowed but probably not what the operator meant."""
    schedule = settings.schedule
    warnings = []
    if schedule.initial_lookback <= schedule.ingest_delay:
        warnings.append(
            f"schedule.initial_lookback ({_duration_text(schedule.initial_lookback)}) is not longer than "
            f"schedule.ingest_delay ({_duration_text(schedule.ingest_delay)}): a hunt's first run searches "
            "nothing and starts the hunt at now - ingest_delay; later runs search forward from there"
        )
    return warnings


def _duration_text(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def environment_warnings() -> list[str]:
    """``HUNTER_*`` variables that name no setting but are not in the nested ``HUNTER_SECTION__KEY``
    form either (which is an error): probably a typo, possibly someone else's variable."""
    return [f"environment: {problem} (ignored)" for nested, problem in _unknown_environment() if not nested]


def _unknown_environment() -> list[tuple[bool, str]]:
    """Per ``HUNTER_*`` variable that names no setting: whether it is in the nested form, and why."""
    known = {f"HUNTER_{name.upper()}" for name in Settings.model_fields}
    for name, info in Settings.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            known |= {f"HUNTER_{name.upper()}__{key.upper()}" for key in section.model_fields}
    problems = []
    for variable in sorted(os.environ):
        upper = variable.upper()
        if not upper.startswith("HUNTER_") or upper in known or upper in _COMPOSE_VARIABLES:
            continue
        if not os.environ[variable] or _KUBERNETES_VARIABLE.fullmatch(upper):
            continue  # empty values are ignored, as for known settings
        guess = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.9)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        problems.append(("__" in upper, f"{variable}: unknown setting{hint}"))
    return problems


def _environment_problem(exc: SettingsError) -> str:
    match = re.search(r'error parsing value for field "(\w+)" from source "(\w+)"', str(exc))
    if match is None:
        return str(exc)
    section = match.group(1)
    prefix = f"HUNTER_{section.upper()}"
    candidates = sorted(name for name in os.environ if name.upper().split("__")[0] == prefix)
    # name only the variables at fault: those of list or table settings whose value is not JSON
    faulty = [name for name in candidates if _wants_json(name) and not _is_json(os.environ[name])]
    variables = ", ".join(faulty or candidates) or prefix
    return f'{variables}: not valid JSON (lists and tables are written as JSON, e.g. \'["a", "b"]\')'


def _wants_json(variable: str) -> bool:
    """Whether the setting a ``HUNTER_*`` variable names is a list or table (parsed as JSON)."""
    parts = variable.upper().removeprefix("HUNTER_").lower().split("__")
    info = Settings.model_fields.get(parts[0])
    annotation = info.annotation if info is not None else None
    if len(parts) == 2 and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        inner = annotation.model_fields.get(parts[1])
        annotation = inner.annotation if inner is not None else None
    elif len(parts) != 1:
        return False
    origin = typing.get_origin(annotation)
    return origin in (list, dict, tuple, set) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _describe(exc: ValidationError, config_path: Path) -> str:
    """Each problem named by its real source: the ``HUNTER_*`` variable that set the value, or the file."""
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        where = ".".join(location)
        message = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
        variable = _variable_for(location)
        source = f"{variable} ({where})" if variable is not None else f"{config_path}: {where}"
        problems.append(f"{source}: {message}")
    return "; ".join(problems)


def _variable_for(location: list[str]) -> str | None:
    """The environment variable that set the setting at ``location``, if one did."""
    for depth in range(len(location), 0, -1):
        wanted = "HUNTER_" + "__".join(location[:depth]).upper()
        for name, value in os.environ.items():
            if name.upper() == wanted and value:
                return name
    return None


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else base / path

    embedded = settings.embedded.model_copy(
        update={
            "events": [absolute(p) for p in settings.embedded.events],
            "mappings": [absolute(p) for p in settings.embedded.mappings],
            "state": absolute(settings.embedded.state),
        }
    )
    elasticsearch = settings.elasticsearch.model_copy(
        update={
            "ca_certs": absolute(settings.elasticsearch.ca_certs)
            if settings.elasticsearch.ca_certs
            else None,
            "api_key_file": (
                absolute(settings.elasticsearch.api_key_file) if settings.elasticsearch.api_key_file else None
            ),
        }
    )
    return settings.model_copy(
        update={
            "queries": [absolute(path) for path in settings.queries],
            "templates": absolute(settings.templates),
            "code_cache": absolute(settings.code_cache) if settings.code_cache else None,
            "embedded": embedded,
            "elasticsearch": elasticsearch,
        }
    )
