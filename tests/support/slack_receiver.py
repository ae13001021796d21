"""A Slack incoming-webhook compatible HTTP receiver on 127.0.0.1 for tests.

It answers like Slack's webhook endpoint (``POST /services/<token>``, body ``ok`` with 200, the
error string as the body otherwise), records every request and its JSON payload, and can be
scripted per request: 200 ``ok``, 429 with ``Retry-After``, 5xx, 400/403/404/410 with Slack's error
strings, or a hang past the client's timeout. Like Slack it refuses a payload that is not JSON
(400 ``invalid_payload``), has neither ``text`` nor ``blocks`` (400 ``no_text``) or breaks a Block
Kit limit (400 ``invalid_blocks``); unscripted requests get 200 ``ok``.

    with SlackReceiver() as slack:
        slack.script(Reply.rate_limited(7), Reply.ok())
        client = WebhookClient(slack.url)
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from hunter.notify.escape import utf16_len

DEFAULT_TOKEN = "T0HUNTER/B0HUNTER/notarealsecrettoken0000"
TEXT_BLOCK_TYPES = frozenset({"section", "header", "context", "divider", "image", "actions", "rich_text"})


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, body, headers, and an optional delay before answering."""

    status: int = 200
    body: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()
    hang: float = 0.0

    @classmethod
    def ok(cls) -> Reply:
        """Slack accepted the message."""
        return cls()

    @classmethod
    def rate_limited(cls, retry_after: float | str = 1) -> Reply:
        """429 with a Retry-After header (seconds)."""
        return cls(429, "rate_limited", (("Retry-After", str(retry_after)),))

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        """A 5xx answer."""
        return cls(status, "internal_error")

    @classmethod
    def error(cls, status: int, error: str) -> Reply:
        """A permanent error with Slack's error string as the body (e.g. 404, "channel_not_found")."""
        return cls(status, error)

    @classmethod
    def hanging(cls, seconds: float) -> Reply:
        """Answer 200 ``ok`` only after ``seconds`` (set it past the client's timeout)."""
        return cls(hang=seconds)


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    path: str
    headers: dict[str, str]
    raw: bytes
    payload: dict[str, Any] | None
    reply: Reply


class SlackReceiver:
    """A scripted, recording stand-in for one Slack incoming webhook."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, check_blocks: bool = True) -> None:
        """Bind 127.0.0.1 on a free port; ``start`` (or ``with``) serves in a background thread."""
        self.token = token
        self.check_blocks = check_blocks
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="slack-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        """The webhook URL (it holds the token, as a real one does)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/services/{self.token}"

    @property
    def payloads(self) -> list[dict[str, Any] | None]:
        """Every JSON payload received, in order (None for a body that was not JSON)."""
        return [r.payload for r in self.requests]

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def start(self) -> SlackReceiver:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release hanging handlers and the port."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlackReceiver:
        """Start serving."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop serving."""
        self.close()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Decide the answer to one request and record it."""
        payload: dict[str, Any] | None = None
        try:
            decoded = json.loads(raw)
            payload = decoded if isinstance(decoded, dict) else None
        except ValueError:
            payload = None
        if path != f"/services/{self.token}":
            reply = Reply.error(404, "no_service")
        elif payload is None:
            reply = Reply.error(400, "invalid_payload")
        elif not payload.get("text") and not payload.get("blocks"):
            reply = Reply.error(400, "no_text")
        elif self.check_blocks and block_problems(payload):
            reply = Reply.error(400, "invalid_blocks")
        else:
            with self._lock:
                reply = self._script.popleft() if self._script else Reply.ok()
        with self._lock:
            self.requests.append(Received(path, headers, raw, payload, reply))
            self._arrived.notify_all()
        return reply

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` requests have arrived (answered or not); False on timeout."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)


def block_problems(payload: dict[str, Any]) -> list[str]:
    """Every Block Kit limit the payload breaks (the subset hunter's messages use)."""
    problems: list[str] = []
    blocks = payload.get("blocks") or []
    if not isinstance(blocks, list) or len(blocks) > 50:
        return ["blocks: not a list of at most 50"]
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in TEXT_BLOCK_TYPES:
            problems.append(f"blocks[{i}]: unknown type {kind!r}")
            continue
        if kind == "header":
            problems += _text_problems(block.get("text"), f"blocks[{i}].text", 150, plain_only=True)
        elif kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                problems.append(f"blocks[{i}]: section without text or fields")
            if "text" in block:
                problems += _text_problems(block["text"], f"blocks[{i}].text", 3000)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    problems.append(f"blocks[{i}].fields: more than 10")
                else:
                    for j, item in enumerate(fields):
                        problems += _text_problems(item, f"blocks[{i}].fields[{j}]", 2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"blocks[{i}].elements: not 1 to 10")
            else:
                for j, item in enumerate(elements):
                    problems += _text_problems(item, f"blocks[{i}].elements[{j}]", 3000)
    return problems


def _text_problems(obj: object, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    """Problems of one text object: its type, and a text of 1 to ``limit`` UTF-16 units."""
    if not isinstance(obj, dict) or obj.get("type") not in {"plain_text", "mrkdwn"}:
        return [f"{where}: not a text object"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= utf16_len(text) <= limit:
        return [f"{where}: text must be 1 to {limit} characters"]
    return []


def _handler_for(receiver: SlackReceiver) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one receiver."""

    class Handler(BaseHTTPRequestHandler):
        """Answers POSTs like Slack's webhook endpoint."""

        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            """Record the request and send the scripted (or validation) answer."""
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            reply = receiver._answer(self.path, dict(self.headers.items()), raw)
            if reply.hang and receiver._closing.wait(reply.hang):
                return
            body = reply.body.encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet."""

    return Handler
