"""The HTTP side of the Elasticsearch test server: parse a request, route it, answer it.

A request is matched to an endpoint (:mod:`tests.support.es_api`), its URL parameters checked,
its body parsed (JSON, NDJSON for ``_bulk``), and handed to the endpoint's handler under the
cluster lock (an EQL search snapshots under the lock and runs outside it). The answer honours
``filter_path``, ``pretty`` and ``Accept: application/yaml``, carries ``X-Elastic-Product:
Elasticsearch`` and the handler's warnings as ``Warning`` headers; faults queued in the server's
:class:`~tests.support.es_faults.FaultPlan` are applied on the way.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import json
import socket
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import es_documents, es_eql, es_indices, es_search, es_streams, es_templates
from .es_api import check_params, match
from .es_cluster import VERSION, Cluster
from .es_errors import EsError
from .es_faults import Fault, RecordedRequest, error_for
from .es_request import Handler, Request

if TYPE_CHECKING:
    from .es_server import EsTestServer

HANDLERS: dict[str, Handler] = {
    **es_indices.HANDLERS,
    **es_templates.HANDLERS,
    **es_streams.HANDLERS,
    **es_documents.HANDLERS,
    **es_search.HANDLERS,
    **es_eql.HANDLERS,
}
_UNLOCKED = frozenset({"eql.search"})


def dispatch(
    cluster: Cluster,
    method: str,
    path: str,
    uri: str,
    params: dict[str, str],
    body: Any,
    raw: str,
    fault: Fault | None,
    headers: dict[str, str],
) -> tuple[int, Any, list[str]]:
    """Route one request and run its handler: (status, payload, warnings)."""
    found = match(method, path, uri)
    check_params(found.api, path, params)
    request = Request(method, path, found.api, found.parts, params, body, raw, fault, headers)
    handler = HANDLERS.get(found.api.name)
    if handler is None:
        raise EsError(
            400, "illegal_argument_exception", f"the test server does not implement [{found.api.name}]"
        )
    if found.api.name in _UNLOCKED:
        status, payload = handler(cluster, request)
    else:
        with cluster.lock:
            status, payload = handler(cluster, request)
    return status, payload, request.warnings


def filter_path(payload: Any, expression: str) -> Any:
    """``payload`` reduced to what ``filter_path`` names (``*`` one key, ``**`` any depth, ``-`` excludes)."""
    includes = [p.split(".") for p in expression.split(",") if p and not p.startswith("-")]
    excludes = [p[1:].split(".") for p in expression.split(",") if p.startswith("-")]
    result = _keep(payload, includes) if includes else payload
    for pattern in excludes:
        result = _drop(result, pattern)
    return result if result is not None else {}


def _keep(value: Any, patterns: list[list[str]]) -> Any:
    if not patterns:
        return None
    if any(not p for p in patterns):
        return value
    if isinstance(value, list):
        kept = [_keep(item, patterns) for item in value]
        kept = [item for item in kept if item is not None]
        return kept or None
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {}
    for key, item in value.items():
        deeper: list[list[str]] = []
        for pattern in patterns:
            head = pattern[0]
            if head == "**":
                deeper.append(pattern)
                deeper.append(pattern[1:])
            elif fnmatch.fnmatchcase(key, head):
                deeper.append(pattern[1:])
        if deeper:
            kept = _keep(item, deeper)
            if kept is not None:
                out[key] = kept
    return out or None


def _drop(value: Any, pattern: list[str]) -> Any:
    if isinstance(value, list):
        return [_drop(item, pattern) for item in value]
    if not isinstance(value, dict) or not pattern:
        return value
    out = {}
    for key, item in value.items():
        if fnmatch.fnmatchcase(key, pattern[0]):
            if len(pattern) == 1:
                continue
            out[key] = _drop(item, pattern[1:])
        else:
            out[key] = item
    return out


def parse_body(raw: bytes, ndjson: bool) -> tuple[Any, str]:
    """(parsed body, its text): JSON, or NDJSON lines for ``_bulk``; None when empty."""
    text = raw.decode("utf-8")
    if not text.strip():
        return ([] if ndjson else None), text
    if ndjson:
        return [json.loads(line) for line in text.splitlines() if line.strip()], text
    return json.loads(text), text


def warning_header(message: str) -> str:
    """``299 Elasticsearch-<version> "<message>"`` (quotes and backslashes escaped)."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 Elasticsearch-{VERSION}-{"0" * 40} "{escaped}"'


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections (so stop() can cut them)."""

    daemon_threads = True
    owner: EsTestServer

    def __init__(self, address: tuple[str, int], owner: EsTestServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection."""
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection."""
        self.connections.discard(request)
        super().shutdown_request(request)


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: HttpServer

    def do_GET(self) -> None:
        """Answer a GET."""
        self._handle()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Answer a PUT."""
        self._handle()

    def do_DELETE(self) -> None:
        """Answer a DELETE."""
        self._handle()

    def do_HEAD(self) -> None:
        """Answer a HEAD."""
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _handle(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        parse_error: str | None = None
        text = ""
        try:
            body, text = parse_body(raw, path.endswith("/_bulk"))
        except (ValueError, UnicodeDecodeError) as error:
            body, parse_error = raw.decode("utf-8", "replace"), str(error)
        headers = {key.lower(): value for key, value in self.headers.items()}
        owner.record(RecordedRequest(self.command, path, params, body, headers))
        fault = owner.faults.take(self.command, path)
        if fault is not None and fault.delay and not fault.delay_response and owner.pause(fault.delay):
            self._drop()
            return
        if fault is not None and fault.drop_connection:
            self._drop()
            return
        if fault is not None and fault.status is not None:
            payload = (
                fault.body
                if fault.body is not None
                else error_for(fault.status, fault.error_type, fault.reason).body()
            )
            self._send(fault.status, payload, params, fault.retry_after)
            return
        warnings: list[str] = []
        try:
            if parse_error is not None:
                raise EsError(400, "x_content_parse_exception", f"[1:1] {parse_error}")
            status, payload, warnings = dispatch(
                owner.cluster, self.command, path, self.path, params, body, text, fault, headers
            )
        except EsError as error:
            status, payload = error.status, error.body()
        except Exception as error:  # noqa: BLE001 - a server bug must still answer like ES would
            status, payload = 500, EsError(500, "exception", f"{type(error).__name__}: {error}").body()
        if fault is not None and fault.delay and fault.delay_response and owner.pause(fault.delay):
            self._drop()
            return
        self._send(status, payload, params, warnings=warnings)

    def _send(
        self,
        status: int,
        payload: Any,
        params: Mapping[str, str],
        retry_after: float | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        accept = self.headers.get("Accept", "")
        if "filter_path" in params and isinstance(payload, dict | list):
            payload = filter_path(payload, params["filter_path"])
        if isinstance(payload, bytes | str):
            data, ctype = (
                (payload.encode() if isinstance(payload, str) else payload),
                "text/plain; charset=UTF-8",
            )
        elif "yaml" in accept or params.get("format") == "yaml":
            data = b"" if payload is None else ("---\n" + yaml.safe_dump(payload, sort_keys=False)).encode()
            ctype = "application/yaml"
        else:
            indent = 2 if params.get("pretty") in ("", "true") else None
            data = (
                b""
                if payload is None
                else json.dumps(
                    payload, separators=(",", ":") if indent is None else None, indent=indent
                ).encode()
            )
            compat = "vnd.elasticsearch" in accept
            ctype = "application/vnd.elasticsearch+json;compatible-with=9" if compat else "application/json"
        if self.command == "HEAD":
            data = b""
        try:
            self.send_response(status)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for message in warnings or []:
                self.send_header("Warning", warning_header(message))
            if retry_after is not None:
                self.send_header("Retry-After", f"{retry_after:g}")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timeout) or the server is stopping

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
