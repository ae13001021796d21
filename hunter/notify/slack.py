"""Slack notices of new alerts: Block Kit messages from templates, posted through an incoming webhook.

Messages come from two sandboxed Jinja2 templates that render JSON (``slack_alert.json.j2`` for one
alert, ``slack_digest.json.j2`` when one ``send`` carries more than ``digest_after`` notices). The
environment escapes every ``{{ }}`` output for mrkdwn and for JSON unless a filter of
:mod:`hunter.notify.escape` already made it safe for its context, so event data can neither ping
anyone, format the message nor break the payload; values are data and are never rendered as
templates. Command lines and the hunt's own prose go into ``rich_text`` blocks, which Slack shows
exactly as written. After rendering, every Block Kit limit is enforced once more
(:func:`enforce_limits`).

Delivery posts at most one message per ``min_interval`` seconds, honours ``Retry-After`` on 429,
retries 5xx and connection errors with exponential backoff, and reports every message as a
:class:`~hunter.notify.Delivery`; it never raises for delivery problems and never logs the webhook
URL (a secret: it carries the token).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import jinja2
import structlog
from jinja2.sandbox import SandboxedEnvironment
from slack_sdk.webhook import WebhookClient, WebhookResponse

from hunter.notify import Delivery, Notice, Outcome
from hunter.notify import escape as esc

ALERT_TEMPLATE = "slack_alert.json.j2"
DIGEST_TEMPLATE = "slack_digest.json.j2"
KIBANA_DATA_VIEW = "hunter-alerts"  # id of the data view in kibana/hunter-data-view.ndjson
MITRE_PREFIX = "https://attack.mitre.org/"

# Block Kit limits (docs.slack.dev block reference; lengths in UTF-16 units, see escape.utf16_len).
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_OBJECT = 3000
MAX_FALLBACK_TEXT = 3000  # hunter's own cap for the top-level `text` (notifications show less)
MAX_RICH_TEXT = 3000  # hunter's own cap for one text element of a rich_text block
TRUNCATED = "… [truncated]"

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
}
EVENT_SEVERITY = {99: "critical", 73: "high", 47: "medium", 21: "low"}
# Slack answers these for a webhook that is gone or forbidden: every later message fails alike.
WEBHOOK_GONE = frozenset({401, 403, 404, 410})
TRANSIENT_STATUS = frozenset({408, 425, 429})

_log = structlog.get_logger(__name__)
_URL_PATH = re.compile(r"(https?://[^/\s]+)/[^\s'\"<>]*")


@dataclass(frozen=True)
class SlackMetrics:
    """Optional counter callbacks, each called with a number of alerts (notices)."""

    sent: Callable[[int], None] | None = None  # posted, Slack answered 200 "ok"
    retried: Callable[[int], None] | None = None  # left pending (Outcome.RETRY)
    failed: Callable[[int], None] | None = None  # parked as failed (Outcome.FAILED)


@dataclass(frozen=True)
class SlackMessage:
    """One webhook payload and the alerts it announces."""

    alert_ids: tuple[str, ...]
    payload: dict[str, Any]


class _RedactUrls(logging.Filter):
    """Strip the path (the webhook token) from any URL in a stdlib log record of slack_sdk."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without URL paths; never drops a record."""
        message = record.getMessage()
        redacted = _URL_PATH.sub(r"\1/[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def webhook_client(url: str, *, timeout: float = 10.0) -> WebhookClient:
    """Build the WebhookClient hunter uses: no retries of its own, a logger that never shows the URL.

    Retries belong to :class:`SlackNotifier` (injected clock and sleep, rate limit, counters). The
    SDK logs request URLs at DEBUG when its logger's own level is unset, so this one is WARNING.
    ``timeout`` is rounded up to whole seconds (the SDK's type).
    """
    logger = logging.getLogger("hunter.notify.slack_sdk")
    logger.setLevel(logging.WARNING)
    _guard_logger(logger)
    return WebhookClient(url=url, timeout=max(1, math.ceil(timeout)), retry_handlers=[], logger=logger)


def slack_environment(
    templates: jinja2.Environment | str | os.PathLike[str],
    *,
    link_prefixes: tuple[str, ...] = (MITRE_PREFIX,),
) -> SandboxedEnvironment:
    """The sandboxed, strict environment the Slack templates render in, with hunter's filters.

    ``templates`` is the templates folder, or an environment whose loader is used (only the loader:
    the sandbox, StrictUndefined, no autoescape and the escaping ``finalize`` are always hunter's).
    The ``link`` filter makes links only to URLs under ``link_prefixes``.
    """
    if isinstance(templates, jinja2.Environment):
        if templates.loader is None:
            raise ValueError("the Jinja2 environment for the Slack templates has no loader")
        loader = templates.loader
    else:
        loader = jinja2.FileSystemLoader(os.fspath(templates))

    def link(url: object, label: object, limit: int = 300) -> esc.Mrkdwn:
        return esc.link(url, label, allowed_prefixes=link_prefixes, limit=limit)

    env = SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters.update(
        text=esc.text,
        code=esc.code,
        code_block=esc.code_block,
        literal=esc.literal,
        number=esc.number,
        plain=esc.plain,
        codes=_codes,
        when=_when,
        field=get_field,
        one=_one,
        link=link,
    )
    return env


class SlackNotifier:
    """Posts notices to one Slack incoming webhook (share one instance per webhook)."""

    def __init__(
        self,
        client: WebhookClient,
        *,
        templates: jinja2.Environment | str | os.PathLike[str],
        kibana_url: str | None,
        digest_after: int = 5,
        min_interval: float = 1.0,
        max_attempts: int = 3,
        backoff: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        metrics: SlackMetrics | None = None,
        max_retry_after: float = 60.0,
        digest_top: int = 10,
        kibana_data_view: str = KIBANA_DATA_VIEW,
        send_budget: float = 60.0,
    ) -> None:
        """Load the templates now (a missing or broken template fails here, not at send time)."""
        if digest_after < 1 or max_attempts < 1 or digest_top < 1:
            raise ValueError("digest_after, max_attempts and digest_top must be at least 1")
        if min_interval < 0 or backoff < 0 or max_retry_after < 0:
            raise ValueError("min_interval, backoff and max_retry_after must not be negative")
        self._client = client
        self._kibana = _kibana_base(kibana_url)
        self._data_view = kibana_data_view
        self._digest_after = digest_after
        self._digest_top = digest_top
        self._min_interval = min_interval
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        # No new message starts once a send() has taken this long: the batch's claims must not
        # expire under it (CLAIM_TTL is 5 min; one message with its retries takes at most ~3.5).
        self._send_budget = send_budget
        self._clock = clock
        self._sleep = sleep
        self._metrics = metrics or SlackMetrics()
        self._lock = threading.Lock()
        self._last_post: float | None = None
        prefixes = (MITRE_PREFIX,) if self._kibana is None else (MITRE_PREFIX, self._kibana + "/app/")
        env = slack_environment(templates, link_prefixes=prefixes)
        self._alert_template = env.get_template(ALERT_TEMPLATE)
        self._digest_template = env.get_template(DIGEST_TEMPLATE)
        _guard_logger(client.logger)

    # -- rendering -------------------------------------------------------------------------------

    def messages(self, notices: Sequence[Notice]) -> list[SlackMessage]:
        """The messages ``send`` would post: one per notice, or one digest above ``digest_after``."""
        if not notices:
            return []
        if len(notices) > self._digest_after:
            return [
                self._render(self._digest_template, notices, lambda: {"digest": self._digest_view(notices)})
            ]
        return [self._render(self._alert_template, [n], partial(self._alert_context, n)) for n in notices]

    def _alert_context(self, notice: Notice) -> dict[str, Any]:
        """The template context of one alert message."""
        return {"a": self._alert_view(notice), "alert": notice.alert}

    def _render(
        self, template: jinja2.Template, notices: Sequence[Notice], context: Callable[[], dict[str, Any]]
    ) -> SlackMessage:
        """Render one template to a payload; unexpected data or a broken template yield a minimal notice."""
        ids = tuple(n.alert_id for n in notices)
        try:
            payload = json.loads(template.render(notices=notices, **context()))
            if not isinstance(payload, dict) or not isinstance(payload.get("blocks"), list):
                raise ValueError("the template did not render an object with a list of blocks")
        except Exception as exc:  # noqa: BLE001 - any template bug must still let the alert out
            _log.error("slack.render_failed", template=template.name, error=str(exc), alerts=len(ids))
            payload = _fallback_payload(ids)
        payload = enforce_limits(payload)
        payload["unfurl_links"] = False
        payload["unfurl_media"] = False
        return SlackMessage(ids, payload)

    def _alert_view(self, notice: Notice) -> dict[str, Any]:
        """The raw (unescaped) values the templates show for one alert; absent fields are None."""
        alert = notice.alert
        severity = _severity(alert)
        user = get_field(alert, "user.name")
        domain = get_field(alert, "user.domain")
        args = get_field(alert, "process.args")
        command_line = get_field(alert, "process.command_line")
        if not command_line and isinstance(args, list):
            command_line = " ".join(str(a) for a in args)
        sub_id = _one(get_field(alert, "threat.technique.subtechnique.id"))
        tech_id = _one(get_field(alert, "threat.technique.id"))
        tech_name = _one(get_field(alert, "threat.technique.name"))
        sub_name = _one(get_field(alert, "threat.technique.subtechnique.name"))
        name = f"{tech_name}: {sub_name}" if tech_name and sub_name else tech_name or sub_name
        technique = " ".join(str(p) for p in (sub_id or tech_id, name) if p)
        reference = _one(get_field(alert, "threat.technique.subtechnique.reference")) or _one(
            get_field(alert, "threat.technique.reference")
        )
        events = get_field(alert, "hunter.events")
        queries = get_field(alert, "hunter.queries")
        false_positives = get_field(alert, "hunter.false_positives")
        return {
            "alert_id": notice.alert_id,
            "hunt_id": get_field(alert, "hunter.hunt.id") or notice.hunt_id,
            "hunt_name": get_field(alert, "hunter.hunt.name")
            or get_field(alert, "rule.name")
            or notice.hunt_id,
            "rule_name": get_field(alert, "rule.name"),
            "message": get_field(alert, "message"),
            "severity": severity,
            "severity_label": severity.title(),
            "severity_emoji": SEVERITY_EMOJI.get(severity, ":white_circle:"),
            "risk_score": get_field(alert, "event.risk_score"),
            "host": get_field(alert, "host.name")
            or get_field(alert, "host.hostname")
            or get_field(alert, "host.id"),
            "os": get_field(alert, "host.os.type"),
            "user": f"{domain}\\{user}" if user and domain else user,
            "process": get_field(alert, "process.name") or get_field(alert, "process.executable"),
            "pid": get_field(alert, "process.pid"),
            "command_line": command_line,
            "parent": get_field(alert, "process.parent.name"),
            "parent_pid": get_field(alert, "process.parent.pid"),
            "queries": list(queries) if isinstance(queries, list) else queries,
            "first_seen": get_field(alert, "hunter.first_seen"),
            "last_seen": get_field(alert, "hunter.last_seen"),
            "events": _event_count(get_field(alert, "hunter.event_count"), events),
            "suppressed": get_field(alert, "hunter.suppressed.count"),
            "technique": technique or None,
            "technique_reference": reference,
            "description": get_field(alert, "rule.description"),
            "notes": get_field(alert, "hunter.hunt.notes"),
            "false_positives": [str(item) for item in _listed(false_positives) if item not in (None, "")],
            "created_at": _aware(notice.created_at),
            "kibana_url": self._discover_url(
                f'event.id:"{_kql_quote(notice.alert_id)}"', _earliest([notice])
            ),
        }

    def _digest_view(self, notices: Sequence[Notice]) -> dict[str, Any]:
        """Counts by severity, hunt and host, and the top entries, for one digest message."""
        views = [self._alert_view(n) for n in notices]
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        views.sort(key=lambda v: (rank.get(v["severity"], len(rank)), v["created_at"], v["alert_id"]))
        hosts = Counter(str(v["host"]) if v["host"] is not None else "unknown host" for v in views)
        hunts = Counter(str(v["hunt_name"]) for v in views)
        severity = Counter(v["severity"] for v in views)
        top_hosts = sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        top_hunts = sorted(hunts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        top = views[: self._digest_top]
        hunt_ids = sorted({str(v["hunt_id"]) for v in views})
        query = "hunter.hunt.id:(" + " or ".join(f'"{_kql_quote(h)}"' for h in hunt_ids[:20]) + ")"
        return {
            "count": len(views),
            "severities": [
                {"label": s.title(), "emoji": SEVERITY_EMOJI.get(s, ":white_circle:"), "count": severity[s]}
                for s in (*SEVERITIES, "unknown")
                if severity[s]
            ],
            "hunts": [{"name": name, "count": n} for name, n in top_hunts],
            "more_hunts": len(hunts) - len(top_hunts),
            "hosts": [{"name": name, "count": n} for name, n in top_hosts],
            "host_count": len(hosts),
            "more_hosts": len(hosts) - len(top_hosts),
            "top": top,
            "more": len(views) - len(top),
            "kibana_url": self._discover_url(query, _earliest(notices)),
        }

    def _discover_url(self, kql: str, since: datetime) -> str | None:
        """A Kibana Discover URL on hunter's alert data view for ``kql`` from ``since`` to now."""
        if self._kibana is None:
            return None
        start = (since - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        app = (
            f"(dataSource:(dataViewId:{esc.rison_string(self._data_view)},type:dataView),"
            f"query:(language:kuery,query:{esc.rison_string(kql)}))"
        )
        time_range = f"(time:(from:{esc.rison_string(start)},to:now))"
        return f"{self._kibana}/app/discover#/?_a={app}&_g={time_range}"

    # -- delivery --------------------------------------------------------------------------------

    def send(
        self, notices: Sequence[Notice], on_delivery: Callable[[Delivery], None] | None = None
    ) -> list[Delivery]:
        """Post the notices and report one Delivery per message; never raises for delivery problems.

        After a message is left pending (rate limit or outage outlasting the retries) or the webhook
        itself is gone (401/403/404/410: that message is parked), the rest of this call is not
        attempted and stays pending. ``on_delivery`` sees each Delivery as soon as it is known, so
        the caller can mark a notice sent before the next message goes out (an exception it raises
        propagates).
        """
        with self._lock:
            deliveries: list[Delivery] = []
            stop: Delivery | None = None
            skipped = 0
            started = self._clock()
            for message in self.messages(notices):
                if stop is None and deliveries and self._clock() - started > self._send_budget:
                    stop = Delivery((), Outcome.RETRY, "send budget spent; the rest go out with the next run")
                if stop is None:
                    delivery, halt = self._deliver(message)
                    if halt:
                        stop = delivery
                else:
                    # never attempted: it stays pending (a parked notice is one Slack refused; these
                    # go out once the webhook works again, without a requeue)
                    delivery = Delivery(message.alert_ids, Outcome.RETRY, stop.detail, stop.retry_after)
                    skipped += len(message.alert_ids)
                self._count(delivery)
                deliveries.append(delivery)
                if on_delivery is not None:
                    on_delivery(delivery)
            if stop is not None and skipped:
                _log.warning("slack.not_attempted", outcome="pending", reason=stop.detail, alerts=skipped)
            return deliveries

    def _deliver(self, message: SlackMessage) -> tuple[Delivery, bool]:
        """Post one message, retrying transient failures: its Delivery, and whether to stop the batch."""
        ids = message.alert_ids
        attempt = 0
        while True:
            attempt += 1
            self._throttle()
            retry_after: float | None = None
            try:
                response = self._client.send_dict(message.payload)
            except Exception as exc:  # noqa: BLE001 - urllib/socket/http.client errors: all transient
                detail = f"{type(exc).__name__}: {self._redact(str(exc))}"
                status = None
            else:
                status = response.status_code
                body = (response.body or "").strip()
                if status == 200 and body == "ok":
                    _log.info("slack.sent", alerts=len(ids), alert_ids=list(ids[:10]), attempts=attempt)
                    return Delivery(ids, Outcome.SENT), False
                detail = self._redact(body) or f"HTTP {status}"
                if status == 429:
                    retry_after = _retry_after(response)
                elif not (status >= 500 or status in TRANSIENT_STATUS or status == 200):
                    return self._failed(ids, status, detail), status in WEBHOOK_GONE
            wait = retry_after if retry_after is not None else self._backoff * 2 ** (attempt - 1)
            if attempt >= self._max_attempts or wait > self._max_retry_after:
                _log.warning(
                    "slack.deferred",
                    status=status,
                    detail=detail,
                    attempts=attempt,
                    retry_after=retry_after,
                    alerts=len(ids),
                    alert_ids=list(ids[:10]),
                )
                return Delivery(ids, Outcome.RETRY, detail, retry_after), True
            _log.warning("slack.retrying", status=status, detail=detail, attempt=attempt, wait=wait)
            self._sleep(wait)

    def _failed(self, ids: tuple[str, ...], status: int, detail: str) -> Delivery:
        """Log a permanent failure once and report it with Slack's error string."""
        _log.error(
            "slack.failed",
            status=status,
            error=detail,
            webhook_gone=status in WEBHOOK_GONE,
            alerts=len(ids),
            alert_ids=list(ids[:10]),
        )
        return Delivery(ids, Outcome.FAILED, detail)

    def _throttle(self) -> None:
        """Wait until ``min_interval`` has passed since the previous request to this webhook."""
        if self._last_post is not None:
            wait = self._last_post + self._min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_post = self._clock()

    def _count(self, delivery: Delivery) -> None:
        """Call the metrics callback of the delivery's outcome with its number of alerts."""
        callback = {
            Outcome.SENT: self._metrics.sent,
            Outcome.RETRY: self._metrics.retried,
            Outcome.FAILED: self._metrics.failed,
        }[delivery.outcome]
        if callback is not None:
            callback(len(delivery.alert_ids))

    def _redact(self, text: str) -> str:
        """Remove the webhook URL (and any URL path) from text that may reach logs or Deliveries."""
        url = getattr(self._client, "url", "") or ""
        if url:
            text = text.replace(url, "[webhook]")
        return _URL_PATH.sub(r"\1/[redacted]", text)


# -- template helpers ----------------------------------------------------------------------------


def get_field(doc: object, path: str) -> Any:
    """The value at a dotted ECS path of a nested (or partly flattened) document, or None."""
    if not isinstance(doc, Mapping):
        return None
    if path in doc:
        return doc[path]
    parts = path.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in doc:
            found = get_field(doc[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None


def enforce_limits(payload: dict[str, Any]) -> dict[str, Any]:
    """Cut a payload to Block Kit's limits: blocks, fields, elements and every text length."""
    blocks = [b for b in payload.get("blocks", []) if isinstance(b, dict)][:MAX_BLOCKS]
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            _cut_text_object(block.get("text"), MAX_HEADER)
        elif kind == "section":
            _cut_text_object(block.get("text"), MAX_SECTION_TEXT)
            if isinstance(block.get("fields"), list):
                block["fields"] = block["fields"][:MAX_FIELDS]
                for item in block["fields"]:
                    _cut_text_object(item, MAX_FIELD_TEXT)
        elif kind == "context" and isinstance(block.get("elements"), list):
            block["elements"] = block["elements"][:MAX_CONTEXT_ELEMENTS]
            for item in block["elements"]:
                _cut_text_object(item, MAX_TEXT_OBJECT)
        elif kind == "rich_text":
            _cut_rich_text(block)
    payload["blocks"] = blocks
    payload["text"] = cut_mrkdwn(str(payload.get("text") or "hunter alert"), MAX_FALLBACK_TEXT)
    return payload


def cut_mrkdwn(text: str, limit: int) -> str:
    """Cut rendered mrkdwn to ``limit`` UTF-16 units without splitting an entity, link or code."""
    if esc.utf16_len(text) <= limit:
        return text
    budget = limit - esc.utf16_len(TRUNCATED) - 4  # room for closing ``` and a space
    out = text[:budget]
    while esc.utf16_len(out) > budget:
        out = out[:-1]
    amp = out.rfind("&")
    if amp != -1 and ";" not in out[amp:]:
        out = out[:amp]
    lt = out.rfind("<")
    if lt != -1 and ">" not in out[lt:]:
        out = out[:lt]
    closing = ""
    if out.count("```") % 2:
        closing = "```"
    elif out.replace("```", "").count("`") % 2:
        closing = "`"
    return f"{out}{closing} {TRUNCATED}"


def _cut_text_object(obj: object, limit: int) -> None:
    """Cut the ``text`` of a text object in place (plain_text loses no entities, so cut it plainly)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return
    if obj.get("type") == "plain_text":
        if esc.utf16_len(obj["text"]) > limit:
            obj["text"] = esc.fit(obj["text"], str, limit)
        return
    obj["text"] = cut_mrkdwn(obj["text"], limit)


def _cut_rich_text(node: object) -> None:
    """Cut every ``text`` element of a rich_text block (shown as written: cut plainly) to MAX_RICH_TEXT."""
    if isinstance(node, list):
        for item in node:
            _cut_rich_text(item)
    elif isinstance(node, dict):
        shown = node.get("text")
        if node.get("type") == "text" and isinstance(shown, str) and esc.utf16_len(shown) > MAX_RICH_TEXT:
            node["text"] = esc.fit(shown, str, MAX_RICH_TEXT)
        _cut_rich_text(node.get("elements"))


def _listed(value: object) -> list[Any]:
    """A list as it is, one value as a list of it, nothing as an empty list."""
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None else [value]


def _finalize(value: object) -> str:
    """Turn every ``{{ }}`` output into the body of a JSON string, escaped for mrkdwn if not yet."""
    if not isinstance(value, esc.Mrkdwn | esc.Literal):
        value = esc.escape_mrkdwn(esc.neutralise(value))
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


def _codes(values: object, limit: int = 60, most: int = 10) -> esc.Mrkdwn:
    """A comma-separated list of code spans (for example the queries that matched)."""
    items = values if isinstance(values, list | tuple) else [] if values is None else [values]
    shown = [esc.code(v, limit) for v in items[:most] if v is not None and str(v) != ""]
    if not shown:
        return esc.Mrkdwn(esc.EMPTY)
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return esc.Mrkdwn(", ".join(shown) + more)


def _when(value: object) -> esc.Mrkdwn:
    """An ISO 8601 timestamp (or datetime) as ``YYYY-MM-DD HH:MM:SS UTC``; other text escaped."""
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        return esc.text(value, 60)
    return esc.Mrkdwn(_aware(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))


def _one(value: object) -> Any:
    """The first element of a list (ECS threat fields are lists), or the value itself."""
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _severity(alert: Mapping[str, Any]) -> str:
    """The alert's severity name, from ``hunter.hunt.severity`` or else ``event.severity``."""
    name = get_field(alert, "hunter.hunt.severity")
    if isinstance(name, str) and name.lower() in SEVERITIES:
        return name.lower()
    number = get_field(alert, "event.severity")
    if isinstance(number, int) and number in EVENT_SEVERITY:
        return EVENT_SEVERITY[number]
    return "unknown"


def _earliest(notices: Sequence[Notice]) -> datetime:
    """The earliest time any of the alerts refers to (timestamp, first seen or creation)."""
    moments: list[datetime] = []
    for notice in notices:
        moments.append(_aware(notice.created_at))
        for path in ("@timestamp", "hunter.first_seen"):
            value = get_field(notice.alert, path)
            if isinstance(value, str):
                try:
                    moments.append(_aware(datetime.fromisoformat(value)))
                except ValueError:
                    continue
    return min(moments)


def _aware(moment: datetime) -> datetime:
    """A datetime with a time zone (a naive one is taken as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event_count(count: Any, events: Any) -> int | None:
    """How many events an alert has: its count (it lists only the first 500), else its list's length."""
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return len(events) if isinstance(events, list) else None


def _kql_quote(value: str) -> str:
    """Escape a value for a double-quoted KQL string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _kibana_base(url: str | None) -> str | None:
    """Validate the Kibana base URL (http or https, nothing that would break a mrkdwn link)."""
    if not url:
        return None
    base = url.rstrip("/")
    if not re.fullmatch(r"https?://[^\s<>|&\"'`]+", base):
        raise ValueError("kibana_url must be an http(s) URL without spaces or any of < > | & \" ' `")
    return base


def _retry_after(response: WebhookResponse) -> float | None:
    """Seconds from a ``Retry-After`` header (any case), or None when absent or not a number."""
    headers: Any = response.headers or {}
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return max(seconds, 0.0)
    return None


def _fallback_payload(ids: tuple[str, ...]) -> dict[str, Any]:
    """A template-free notice, so a template bug never swallows an alert."""
    shown = ", ".join(esc.code(i, 80) for i in ids[:10])
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    text = f":warning: {len(ids)} new hunter alert(s): {shown}{more} (the Slack template failed; see Kibana)"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "verbatim": True, "text": text}}],
    }


def _guard_logger(logger: logging.Logger) -> None:
    """Add the URL-redacting filter to a stdlib logger once."""
    if not any(isinstance(f, _RedactUrls) for f in logger.filters):
        logger.addFilter(_RedactUrls())
