"""One request as the Elasticsearch test server's handlers see it, and what they answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .es_api import Api
from .es_cluster import Cluster, flag
from .es_errors import EsError, location_of, unknown_field
from .es_faults import Fault

Answer = tuple[int, Any]


@dataclass
class Request:
    """Method, path, the route's path parts, URL parameters, the parsed body and warnings to send."""

    method: str
    path: str
    api: Api
    parts: dict[str, str]
    params: dict[str, str]
    body: Any
    raw: str = ""
    fault: Fault | None = None
    headers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict[str, Any]:
        """The body as an object (``{}`` when there is none)."""
        return self.body if isinstance(self.body, dict) else {}

    def flag(self, name: str, default: bool) -> bool:
        """A boolean URL parameter."""
        return flag(self.params.get(name), default)

    def int_param(self, name: str, default: int | None = None) -> int | None:
        """An integer URL parameter."""
        value = self.params.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as error:
            raise EsError(
                400,
                "illegal_argument_exception",
                f"Failed to parse int parameter [{name}] with value [{value}]",
            ) from error

    def warn(self, message: str) -> None:
        """Send ``message`` as a ``Warning`` header (deprecations and other notices)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def check_fields(self, parser: str, known: Iterable[str], body: Mapping[str, Any] | None = None) -> None:
        """Refuse body fields ``parser`` does not declare (``[parser] unknown field [x]``)."""
        chosen = self.json if body is None else body
        listed = list(known)
        for key in chosen:
            if key not in listed:
                raise unknown_field(parser, key, listed, location_of(self.raw, key))


Handler = Callable[[Cluster, Request], Answer]
