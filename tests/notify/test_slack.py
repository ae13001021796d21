"""SlackNotifier against a real WebhookClient and a Slack-compatible local receiver.

Nothing is mocked: every test posts through slack_sdk's WebhookClient to
tests/support/slack_receiver.py on 127.0.0.1. The clock and sleep are injected (FakeTime), so no
test really sleeps except the hang test, which waits out a one-second client timeout.

Golden payloads live in tests/notify/golden/. After an intended change to the templates or the
rendering, regenerate them and review the diff:

    HUNTER_REGENERATE_GOLDEN=1 /work/venv/bin/python -m pytest tests/notify/test_slack.py -k golden
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.webhook import WebhookClient

from hunter.notify import Delivery, Notice, Outcome
from hunter.notify import escape as esc
from hunter.notify.slack import (
    SlackMetrics,
    SlackNotifier,
    cut_mrkdwn,
    enforce_limits,
    get_field,
    webhook_client,
)
from tests.support.slack_receiver import Reply, SlackReceiver, block_problems

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("HUNTER_REGENERATE_GOLDEN") == "1"
KIBANA = "http://kibana.test:5601"
CREATED = datetime(2026, 11, 20, 9, 20, 0, tzinfo=UTC)
HOST_ID = "9d4e1b72-6c3a-4f0e-8b25-e17a3c90d6f4"


class FakeTime:
    """An injected monotonic clock whose sleep only advances it and records the wait."""

    def __init__(self) -> None:
        """Start at an arbitrary monotonic time."""
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """The current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance the clock."""
        self.sleeps.append(seconds)
        self.now += seconds


def alert_id(anchor: str) -> str:
    """An alert id as hunter makes them: hex sha256 of the hunt id and the anchor identity."""
    return hashlib.sha256(f"t1059_011_lua|{anchor}".encode()).hexdigest()


def lua_alert(
    anchor: str = f"{HOST_ID}|NDg0MDAtMTc2MzYzMDA0My4zMzU3NTY3",
    *,
    host: str = "dev-ubuntu-14",
    os_type: str = "linux",
    user: str = "dana",
    domain: str | None = None,
    severity: str = "medium",
    command_line: str = "lua5.4 -e \"os.execute('whoami > /tmp/.lua_whoami')\"",
    queries: tuple[str, ...] = ("fallback", "sequence"),
    first_seen: str = "2026-11-20T09:14:03.3357567Z",
) -> dict[str, Any]:
    """A realistic T1059.011 alert document, as hunter's alerts template writes it."""
    event_severity = {"low": 21, "medium": 47, "high": 73, "critical": 99}[severity]
    user_obj: dict[str, Any] = {"name": user}
    if domain:
        user_obj["domain"] = domain
    return {
        "@timestamp": first_seen,
        "message": f"Lua interpreter lua5.4 ran code on {host}",
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": ["info"],
            "severity": event_severity,
            "risk_score": float(event_severity),  # a hunt's risk score is a float: 47.0
            "id": alert_id(anchor),
        },
        "rule": {
            "id": "t1059_011_lua",
            "name": "Lua interpreter abuse (T1059.011)",
            "description": "A Lua interpreter started with arguments that load or run code.",
            "reference": ["https://attack.mitre.org/techniques/T1059/011/"],
        },
        "threat": {
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": ["TA0002"],
                "name": ["Execution"],
                "reference": ["https://attack.mitre.org/tactics/TA0002/"],
            },
            "technique": {
                "id": ["T1059"],
                "name": ["Command and Scripting Interpreter"],
                "reference": ["https://attack.mitre.org/techniques/T1059/"],
                "subtechnique": {
                    "id": ["T1059.011"],
                    "name": ["Lua"],
                    "reference": ["https://attack.mitre.org/techniques/T1059/011/"],
                },
            },
        },
        "host": {"id": HOST_ID, "name": host, "hostname": host, "os": {"type": os_type}},
        "user": user_obj,
        "process": {
            "pid": 48377,
            "entity_id": anchor.rsplit("|", maxsplit=1)[-1],
            "name": "lua5.4",
            "executable": "/usr/bin/lua5.4",
            "command_line": command_line,
            "args": ["lua5.4", "-e", "os.execute('whoami > /tmp/.lua_whoami')"],
            "parent": {"name": "bash", "pid": 48211},
        },
        "hunter": {
            "hunt": {
                "id": "t1059_011_lua",
                "name": "Lua interpreter abuse (T1059.011)",
                "severity": severity,
                "notes": "Check what the Lua code ran: `os.execute` and `io.popen` start shells.",
            },
            "false_positives": [
                "Build tools that run Lua scripts (premake, luarocks)",
                "Neovim plugins",
            ],
            "queries": list(queries),
            "first_seen": first_seen,
            "last_seen": "2026-11-20T09:14:03.9120000Z",
            "events": [
                {
                    "_index": ".ds-logs-endpoint.events.process-default-2026.11.20-000001",
                    "_id": "Oq3L1FOtjHjj4EfCngyu",
                    "@timestamp": first_seen,
                    "event.category": ["process"],
                },
                {
                    "_index": ".ds-logs-endpoint.events.file-default-2026.11.20-000001",
                    "_id": "E4jL1FOtjHjj4EfCngyu",
                    "@timestamp": "2026-11-20T09:14:03.9120000Z",
                    "event.category": ["file"],
                },
            ],
        },
    }


def notice(alert: dict[str, Any], *, created: datetime = CREATED) -> Notice:
    """The outbox notice for one alert document."""
    return Notice(alert["event"]["id"], "t1059_011_lua", alert, created)


def digest_notices() -> list[Notice]:
    """Seven alerts of one run over four hosts and three severities."""
    specs: list[dict[str, Any]] = [
        {"host": "dev-ubuntu-14"},
        {"host": "dev-ubuntu-14", "queries": ("fallback",)},
        {"host": "dev-ubuntu-14", "severity": "high"},
        {"host": "build-07", "command_line": "luajit /tmp/x.lua"},
        {"host": "build-07", "severity": "low", "user": "ci"},
        {
            "host": "WIN-FIN-22",
            "os_type": "windows",
            "user": "ana",
            "domain": "CORP",
            "severity": "critical",
            "command_line": "lua.exe C:\\Users\\ana\\AppData\\Local\\Temp\\run.lua \"io.popen('whoami')\"",
            "queries": ("fallback",),
        },
        {"host": "auditd-lab-3", "user": "root", "queries": ("fallback",)},
    ]
    return [
        notice(lua_alert(f"anchor-{i}", **spec), created=CREATED + timedelta(seconds=i))
        for i, spec in enumerate(specs)
    ]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep proxy variables from routing the local receiver's traffic elsewhere."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    """A running Slack-compatible receiver."""
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def fake() -> FakeTime:
    """The injected clock and sleep."""
    return FakeTime()


def make_notifier(
    url: str, fake: FakeTime, *, timeout: int = 5, client: WebhookClient | None = None, **kwargs: Any
) -> SlackNotifier:
    """A SlackNotifier on a real WebhookClient for ``url``, with the fake clock and sleep."""
    options: dict[str, Any] = {"templates": TEMPLATES, "kibana_url": KIBANA}
    options.update(kwargs)
    return SlackNotifier(
        client or webhook_client(url, timeout=timeout), clock=fake.clock, sleep=fake.sleep, **options
    )


def assert_golden(name: str, payload: dict[str, Any]) -> None:
    """Compare a payload with its golden file (or rewrite the file when regenerating)."""
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert payload == json.loads(path.read_text(encoding="utf-8"))


def strings(value: object) -> Iterator[str]:
    """Every string anywhere in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def rich_texts(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every element inside the rich_text blocks of a payload (sections, lists, text elements)."""

    def walk(value: object) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            yield value
            yield from walk(value.get("elements"))
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for block in payload["blocks"]:
        if block["type"] == "rich_text":
            yield from walk(block["elements"])


def marked_up_strings(payload: dict[str, Any]) -> Iterator[str]:
    """Every string of a payload outside rich_text blocks (mrkdwn, plain_text, the fallback text)."""
    yield from strings({k: v for k, v in payload.items() if k != "blocks"})
    for block in payload["blocks"]:
        if block["type"] != "rich_text":
            yield from strings(block)


def mrkdwn_texts(payload: dict[str, Any]) -> Iterator[str]:
    """The top-level text and the text of every mrkdwn text object of a payload."""
    yield payload["text"]

    def walk(value: object) -> Iterator[str]:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                yield value["text"]
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    yield from walk(payload["blocks"])


# -- message content ------------------------------------------------------------------------------


def test_alert_payload_matches_golden(slack: SlackReceiver, fake: FakeTime) -> None:
    """One alert is posted as the Block Kit message in golden/alert.json and reported SENT."""
    n = notice(lua_alert())
    deliveries = make_notifier(slack.url, fake).send([n])
    assert deliveries == [Delivery((n.alert_id,), Outcome.SENT)]
    assert len(slack.requests) == 1
    payload = slack.payloads[0]
    assert payload is not None
    assert_golden("alert.json", payload)


def test_digest_payload_matches_golden(slack: SlackReceiver, fake: FakeTime) -> None:
    """More than digest_after notices become ONE digest message (golden/digest.json)."""
    notices = digest_notices()
    deliveries = make_notifier(slack.url, fake, digest_after=5, digest_top=5).send(notices)
    assert deliveries == [Delivery(tuple(n.alert_id for n in notices), Outcome.SENT)]
    assert len(slack.requests) == 1
    payload = slack.payloads[0]
    assert payload is not None
    assert_golden("digest.json", payload)
    everything = "\n".join(strings(payload))
    assert "… and 2 more alerts not listed here" in everything
    assert "`dev-ubuntu-14` × 3" in everything


def test_up_to_digest_after_notices_are_posted_one_by_one(slack: SlackReceiver, fake: FakeTime) -> None:
    """Exactly digest_after notices are still individual messages, one Delivery each."""
    notices = digest_notices()[:5]
    deliveries = make_notifier(slack.url, fake, digest_after=5).send(notices)
    assert [d.alert_ids for d in deliveries] == [(n.alert_id,) for n in notices]
    assert all(d.outcome is Outcome.SENT for d in deliveries)
    assert len(slack.requests) == 5


def test_fallback_text_carries_the_essentials(fake: FakeTime) -> None:
    """The plain `text` names hunt, severity, host, user, process, command line, queries, times and links."""
    n = notice(lua_alert())
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([n])
    text = message.payload["text"]
    for expected in (
        "Medium",
        "Lua interpreter abuse (T1059.011)",
        "dev-ubuntu-14",
        "dana",
        "lua5.4",
        "os.execute('whoami &gt; /tmp/.lua_whoami')",
        "fallback, sequence",
        "first seen 2026-11-20 09:14:03 UTC",
        "last seen 2026-11-20 09:14:03 UTC",
        "<https://attack.mitre.org/techniques/T1059/011/|T1059.011 Command and Scripting Interpreter: Lua>",
        f"<{KIBANA}/app/discover#/",
    ):
        assert expected in text


def test_the_event_figure_is_the_alerts_true_count(fake: FakeTime) -> None:
    """An alert lists at most 500 member events; the message shows hunter.event_count, all of them."""
    alert = lua_alert()
    alert["hunter"]["event_count"] = 601
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(alert)])
    assert "*Events*\n601" in json.dumps(message.payload["blocks"]).replace("\\n", "\n")


def test_kibana_link_opens_the_alert_in_discover(fake: FakeTime) -> None:
    """The Kibana link opens Discover on the hunter-alerts data view, queried by the alert's event.id."""
    n = notice(lua_alert())
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([n])
    links = re.findall(r"<(http://kibana\.test:5601/[^|>]+)\|", message.payload["text"])
    assert len(links) == 1
    url = links[0].replace("&amp;", "&")
    assert url.startswith(f"{KIBANA}/app/discover#/?_a=(dataSource:(dataViewId:hunter-alerts,type:dataView),")
    assert f"query:(language:kuery,query:'event.id:%22{n.alert_id}%22')" in url
    assert "&_g=(time:(from:'2026-11-20T08:14:03.000Z',to:now))" in url


def test_no_kibana_link_without_kibana_url(fake: FakeTime) -> None:
    """Without kibana_url the messages carry no Kibana link at all."""
    notifier = make_notifier("http://127.0.0.1:9/services/x", fake, kibana_url=None)
    for notices in ([notice(lua_alert())], digest_notices()):
        (message,) = notifier.messages(notices)
        assert "discover" not in json.dumps(message.payload)


def test_alert_with_missing_fields_still_renders(slack: SlackReceiver, fake: FakeTime) -> None:
    """An alert with almost no fields renders placeholders instead of failing."""
    n = Notice("f" * 64, "t1059_011_lua", {"event": {"id": "f" * 64}}, CREATED)
    with structlog.testing.capture_logs() as logs:
        deliveries = make_notifier(slack.url, fake).send([n])
    assert deliveries[0].outcome is Outcome.SENT
    assert not [e for e in logs if e["event"] == "slack.render_failed"]
    payload = slack.payloads[0]
    assert payload is not None
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert fields[0] == "*Host*\n—"
    assert payload["blocks"][0]["text"]["text"] == ":white_circle: Unknown · t1059_011_lua"


def test_broken_template_still_sends_a_minimal_notice(
    slack: SlackReceiver, fake: FakeTime, tmp_path: Path
) -> None:
    """A template that fails to render still lets the alert out, as a minimal text notice."""
    (tmp_path / "slack_alert.json.j2").write_text('{"text": "{{ a.no_such.thing }}", "blocks": []}')
    (tmp_path / "slack_digest.json.j2").write_text("not json {{ digest.count }}")
    notifier = make_notifier(slack.url, fake, templates=tmp_path, digest_after=1)
    with structlog.testing.capture_logs() as logs:
        single = notifier.send([notice(lua_alert())])
        digest = notifier.send(digest_notices()[:2])
    assert [d.outcome for d in single + digest] == [Outcome.SENT, Outcome.SENT]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["slack.render_failed"] * 2
    first, second = slack.payloads
    assert first is not None and second is not None
    assert notice(lua_alert()).alert_id in first["text"]
    assert "2 new hunter alert(s)" in second["text"]


def test_missing_template_or_bad_kibana_url_fail_at_construction(tmp_path: Path) -> None:
    """Configuration errors surface when the notifier is built, not when an alert is sent."""
    client = webhook_client("http://127.0.0.1:9/services/x")
    with pytest.raises(jinja2.TemplateNotFound, match=r"slack_alert\.json\.j2"):
        SlackNotifier(client, templates=tmp_path, kibana_url=None)
    with pytest.raises(ValueError, match="kibana_url"):
        SlackNotifier(client, templates=TEMPLATES, kibana_url="http://kibana|<!here>")


def test_flattened_and_nested_fields_are_both_read() -> None:
    """get_field reads nested objects, dotted keys and mixtures of both; absent is None."""
    doc = {"host": {"os.type": "linux", "name": "a"}, "user.name": "dana", "process": None}
    assert get_field(doc, "host.os.type") == "linux"
    assert get_field(doc, "host.name") == "a"
    assert get_field(doc, "user.name") == "dana"
    assert get_field(doc, "process.name") is None
    assert get_field(doc, "nope") is None


# -- safety ---------------------------------------------------------------------------------------

HOSTILE = " ".join(
    [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U123>",
        "<#C123|general>",
        "<!subteam^S123>",
        "<!date^1392734382^{date}|x>",
        "<https://evil.example|click>",
        "&lt;!channel&gt;",
        "`rm -rf /`",
        "```",
        "{{ 7*191 }}",
        "{% raw %}",
        "\x1b[31mred\x1b[0m",
        "line1\nline2\r\n",
        "\u202eexe.txt",
        "zero\u200bwidth",
        '", "type": "injected',
        "\\",
        "*bold* _it_ ~st~ @here @channel",
    ]
)
ALLOWED_LINK = re.compile(
    r"<(?:https://attack\.mitre\.org/|" + re.escape(KIBANA) + r"/app/discover#/)[^\s<>|]*\|[^<>]*>"
)


def hostile_alert(anchor: str) -> dict[str, Any]:
    """An alert whose every event-derived string is hostile."""
    alert = lua_alert(anchor, host=HOSTILE, user=HOSTILE, domain=HOSTILE, command_line=HOSTILE)
    alert["message"] = HOSTILE
    alert["process"].update(name=HOSTILE, executable=HOSTILE, args=[HOSTILE, HOSTILE], pid=HOSTILE)
    alert["process"]["parent"] = {"name": HOSTILE, "pid": HOSTILE}
    alert["hunter"].update(queries=[HOSTILE, "fallback"], first_seen=HOSTILE, last_seen=HOSTILE)
    alert["hunter"]["hunt"].update(name=HOSTILE, id=HOSTILE, severity=HOSTILE)
    alert["hunter"]["suppressed"] = {"count": HOSTILE}
    alert["rule"]["name"] = HOSTILE
    alert["host"]["os"]["type"] = HOSTILE
    alert["event"]["risk_score"] = HOSTILE
    technique = alert["threat"]["technique"]
    technique["name"] = [HOSTILE]
    # Even alerts: a MITRE reference full of link-breaking characters; odd ones: another site.
    reference = (
        "https://attack.mitre.org/x|<!channel> <@U1>" if int(anchor) % 2 == 0 else "https://evil.example/"
    )
    technique["subtechnique"].update(id=[HOSTILE], name=[HOSTILE], reference=[reference])
    return alert


def escaped_hostile() -> str:
    """HOSTILE as a rich_text element shows it: every character as written, controls made visible."""
    return "".join(esc.visible(ch, keep_newlines=True) for ch in HOSTILE)


@pytest.mark.parametrize("count", [1, 6], ids=["alert", "digest"])
def test_hostile_event_data_cannot_mention_link_or_break_out(
    slack: SlackReceiver, fake: FakeTime, count: int
) -> None:
    """Event data makes no <!, <@, <#, <http sequence, code-span escape, template run or JSON injection."""
    notices = [
        Notice(HOSTILE if i == 0 else alert_id(str(i)), HOSTILE, hostile_alert(str(i)), CREATED)
        for i in range(count)
    ]
    deliveries = make_notifier(slack.url, fake, digest_after=5).send(notices)
    assert [d.outcome for d in deliveries] == [Outcome.SENT]
    payload = slack.payloads[0]
    assert payload is not None
    assert not {"link_names", "parse"} & payload.keys()
    expected_types = (
        ["header", "rich_text", "section", "rich_text", "rich_text", "rich_text", "rich_text", "context"]
        if count == 1
        else ["header", "section", "section", "divider", *["section", "rich_text"] * count, "context"]
    )
    assert [b["type"] for b in payload["blocks"]] == expected_types
    everything = list(strings(payload))
    joined = "\n".join(everything)
    assert "{{ 7*191 }}" in joined and "{% raw %}" in joined
    assert "injected" not in [b.get("type") for b in payload["blocks"]]
    for value in everything:
        for bad in ("\x1b", "\r", "\u202e", "\u200b"):
            assert bad not in value
    # rich text shows event data as written, so only text elements (never links or mentions) hold it
    elements = list(rich_texts(payload))
    assert {e["type"] for e in elements} <= {
        "rich_text_section",
        "rich_text_preformatted",
        "rich_text_list",
        "text",
    }
    assert all(set(e) <= {"type", "text", "style"} for e in elements if e["type"] == "text")
    assert escaped_hostile() in [e.get("text") for e in elements]
    for value in marked_up_strings(payload):
        for bad in ("<!", "<@", "<#", "`rm -rf /`"):
            assert bad not in value
        assert not [ch for ch in value if unicodedata.category(ch) == "Cc" and ch != "\n"]
        for match in re.finditer("<", value):
            assert ALLOWED_LINK.match(value, match.start()), value[match.start() : match.start() + 80]
    for text in mrkdwn_texts(payload):
        assert text.count("```") % 2 == 0
        assert text.replace("```", "").count("`") % 2 == 0
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text" and "<" not in header["text"]
    destinations = {urllib.parse.urlsplit(m.group(0)[1:]).netloc for m in ALLOWED_LINK.finditer(joined)}
    assert destinations <= {"attack.mitre.org", "kibana.test:5601"}


def test_escape_rules() -> None:
    """Escaping: & < > become entities, backticks leave no code span, controls are shown, plain has no < >."""
    assert esc.text("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert esc.text("&amp;") == "&amp;amp;"
    assert esc.text("x\ny\x1b\u202e") == "x\\ny\\x1b\\u202e"
    assert esc.text("a `b` c") == "a \u02cbb\u02cb c"
    assert esc.code("a`b") == "`a\u02cbb`"
    assert esc.code_block("a\n```b<") == "```a\n\u02cb\u02cb\u02cbb&lt;```"
    assert esc.plain("<!here> & \x00") == "\u2039!here\u203a & \\x00"
    assert esc.text(None) == esc.code("") == "—"
    assert esc.text([1, None, "b"]) == "1, b"
    assert esc.text("\U000e0041") == "\\U000e0041"  # a Unicode tag character ("ASCII smuggling")


def test_each_context_keeps_data_data() -> None:
    """Rich text keeps every character; code blocks keep backticks that cannot reach a fence; running
    text shows * _ ~ ` as look-alikes; numbers drop a float's .0."""
    command = "bash -c 'echo `id` $(whoami) *x* _y_ ~z~ a&b <c>'\n\tnext\x1b"
    assert esc.literal(command) == command.replace("\x1b", "\\x1b")
    assert isinstance(esc.literal(command), esc.Literal)
    assert esc.literal("") == "—"
    assert esc.code_block("echo `id` ``x``") == "```echo `id` ``xˋˋ```"  # the last two touch the fence
    assert esc.code_block("```x") == "```ˋˋˋx```"
    assert esc.code_block("a````b") == "```aˋˋˋˋb```"
    assert esc.text("*bold* _it_ ~st~ `c`") == "∗bold∗ ˍitˍ ∼st∼ ˋcˋ"
    assert esc.code("*bold* _it_ ~st~") == "`*bold* _it_ ~st~`"  # nothing is formatted inside code
    assert [esc.number(v) for v in (47.0, 48377, 0.5, 1e21, True, "47", None)] == [
        "47",
        "48377",
        "0.5",
        "1000000000000000000000",
        "True",
        "47",
        "—",
    ]


def test_a_command_line_is_shown_exactly_as_written(fake: FakeTime) -> None:
    """The command line block (and each digest entry's) is rich text holding the command line itself:
    backticks, $( ), * _ ~, & < > and newlines as written, nothing formatted, nothing escaped."""
    command = "lua5.4 -e \"os.execute('echo `id` > /tmp/o && cat /tmp/*_~ <in')\"\n  --x ```y```"
    notifier = make_notifier("http://127.0.0.1:9/services/x", fake)
    (alert_message,) = notifier.messages([notice(lua_alert(command_line=command))])
    (digest_message,) = notifier.messages(
        [notice(lua_alert(f"a{i}", command_line=command)) for i in range(6)]
    )
    for message in (alert_message, digest_message):
        preformatted = [e for e in rich_texts(message.payload) if e["type"] == "rich_text_preformatted"]
        assert preformatted
        for element in preformatted:
            assert element["elements"] == [{"type": "text", "text": command}]
        assert block_problems(message.payload) == []


def test_formatting_characters_in_event_data_format_nothing(fake: FakeTime) -> None:
    """Attacker-chosen *, _, ~ and backticks sit in code spans (where nothing formats), in rich text,
    or, in running mrkdwn text, as look-alikes: no pair of them can bold, italicise or strike."""
    alert = lua_alert(host="*bold*", user="_it_", command_line="~st~")
    alert["hunter"]["hunt"]["name"] = "*Hunt* _x_ ~y~ `z`"
    alert["message"] = "*m* _m_ ~m~"
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(alert)])
    text = message.payload["text"]
    assert "Host `*bold*`, user `_it_`" in text
    assert ": `~st~`" in text
    assert "∗Hunt∗ ˍxˍ ∼y∼ ˋzˋ" in text
    fields = [f["text"] for f in message.payload["blocks"][2]["fields"]]
    assert fields[0] == "*Host*\n`*bold*` (linux)"
    assert message.payload["blocks"][1]["elements"][0]["elements"] == [
        {"type": "text", "text": "*m* _m_ ~m~"}
    ]
    for value in mrkdwn_texts(message.payload):  # (plain_text, the header, formats nothing)
        for marker in ("*Hunt*", "_x_", "~y~", "*m*", "_m_", "~m~"):
            assert marker not in value


def test_numbers_are_shown_as_numbers(fake: FakeTime) -> None:
    """Risk score 47.0 shows as 47, a float pid as an integer, a fractional score as it is."""
    alert = lua_alert()
    alert["event"]["risk_score"] = 73.5
    alert["process"]["pid"] = 48377.0
    alert["hunter"]["event_count"] = 12
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(alert)])
    fields = [f["text"] for f in message.payload["blocks"][2]["fields"]]
    assert fields[2] == "*Process*\n`lua5.4` (pid 48377)"
    assert fields[5] == "*Events*\n12"
    assert fields[9] == "*Risk score*\n73.5"
    (golden,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(lua_alert())])
    assert golden.payload["blocks"][2]["fields"][9]["text"] == "*Risk score*\n47"


def test_the_hunts_description_notes_and_false_positives_are_shown(fake: FakeTime) -> None:
    """The message says what the hunt looks for (rule.description), its known false positives (at most
    five, then how many more) and its notes, each as written."""
    alert = lua_alert()
    alert["hunter"]["false_positives"] = [f"fp *{i}*" for i in range(7)]
    (message,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(alert)])
    texts = [e["text"] for e in rich_texts(message.payload) if e["type"] == "text"]
    assert "A Lua interpreter started with arguments that load or run code." in texts
    assert [t for t in texts if t.startswith("fp ")] == [f"fp *{i}*" for i in range(5)]
    assert "… and 2 more" in texts
    assert "Check what the Lua code ran: `os.execute` and `io.popen` start shells." in texts
    bare = lua_alert()
    del bare["rule"]["description"], bare["hunter"]["false_positives"], bare["hunter"]["hunt"]["notes"]
    (plain,) = make_notifier("http://127.0.0.1:9/services/x", fake).messages([notice(bare)])
    assert [b["type"] for b in plain.payload["blocks"]] == [
        "header",
        "rich_text",
        "section",
        "rich_text",
        "context",
    ]


def test_links_only_to_allowed_destinations() -> None:
    """link() makes a link only to an allowed http(s) prefix and percent-encodes what would end it."""
    allowed = ("https://attack.mitre.org/",)
    assert esc.link("https://evil.example/", "x<y", allowed_prefixes=allowed) == "x&lt;y"
    assert esc.link("javascript:alert(1)", "x", allowed_prefixes=("javascript:",)) == "x"
    assert (
        esc.link("https://attack.mitre.org/a|b> c&d", "T", allowed_prefixes=allowed)
        == "<https://attack.mitre.org/a%7Cb%3E%20c&amp;d|T>"
    )
    assert esc.rison_string("it's!") == "'it!'s!!'"
    assert esc.rison_string("hunter-alerts") == "hunter-alerts"


# -- limits ---------------------------------------------------------------------------------------


def test_long_values_are_truncated_with_a_marker_within_every_limit(
    slack: SlackReceiver, fake: FakeTime
) -> None:
    """Huge values are cut with a visible marker and the message still meets every Block Kit limit."""
    alert = lua_alert(host="h" * 5000, user="u" * 5000, command_line="<&>" * 10000)
    alert["message"] = "m" * 10_000
    alert["hunter"]["hunt"]["name"] = "H" * 500
    alert["hunter"]["queries"] = [f"q{i}" for i in range(50)]
    alert["process"]["name"] = "\U0001f600" * 3000  # astral: two UTF-16 units each
    deliveries = make_notifier(slack.url, fake).send([notice(alert)])
    assert deliveries[0].outcome is Outcome.SENT  # the receiver refuses payloads that break a limit
    payload = slack.payloads[0]
    assert payload is not None
    assert block_problems(payload) == []
    assert esc.utf16_len(payload["text"]) <= 3000
    command = payload["blocks"][3]["elements"][1]["elements"][0]["text"]
    assert command.startswith("<&><&>")
    assert re.search(r"… \[\+\d+ chars\]$", command)
    assert esc.utf16_len(command) <= 2900
    assert "and 40 more" in payload["blocks"][2]["fields"][4]["text"]
    assert payload["blocks"][0]["text"]["text"].endswith("chars]")


def test_digest_of_hundreds_of_alerts_is_one_message_within_limits(
    slack: SlackReceiver, fake: FakeTime
) -> None:
    """500 notices on 300 hosts become one digest that lists the top ones and says how many more."""
    notices = [notice(lua_alert(f"a{i}", host=f"host-{i % 300:03d}")) for i in range(500)]
    deliveries = make_notifier(slack.url, fake).send(notices)
    assert len(deliveries) == 1 and len(deliveries[0].alert_ids) == 500
    assert deliveries[0].outcome is Outcome.SENT
    payload = slack.payloads[0]
    assert payload is not None
    assert block_problems(payload) == []
    texts = "\n".join(strings(payload))
    assert "… and 290 more hosts" in texts
    assert "… and 490 more alerts not listed here" in texts


def test_enforce_limits_never_splits_entities_links_or_code() -> None:
    """The last-resort cutter keeps entities, links and code spans whole and marks the cut."""
    assert cut_mrkdwn("a" * 10 + "&amp;" * 10, 40) == "a" * 10 + "&amp;" * 2 + " … [truncated]"
    assert (
        cut_mrkdwn("see <https://attack.mitre.org/techniques/T1059/011/|T1059.011>", 30)
        == "see  … [truncated]"
    )
    assert cut_mrkdwn("```" + "y" * 100 + "```", 40).endswith("``` … [truncated]")
    payload = enforce_limits(
        {
            "text": "",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "z" * 400}}] * 60,
        }
    )
    assert len(payload["blocks"]) == 50 and payload["text"] == "hunter alert"
    assert esc.utf16_len(payload["blocks"][0]["text"]["text"]) <= 150


# -- delivery -------------------------------------------------------------------------------------


def test_rate_limit_spaces_messages_by_min_interval(slack: SlackReceiver, fake: FakeTime) -> None:
    """At most one request per min_interval: the injected clock shows each wait, none after a pause."""
    notifier = make_notifier(slack.url, fake, min_interval=1.5)
    notifier.send(digest_notices()[:3])
    assert fake.sleeps == [1.5, 1.5]
    notifier.send(digest_notices()[3:4])
    assert fake.sleeps == [1.5, 1.5, 1.5]
    fake.now += 60
    notifier.send(digest_notices()[4:5])
    assert fake.sleeps == [1.5, 1.5, 1.5]
    assert len(slack.requests) == 5


def test_429_waits_retry_after_then_sends(slack: SlackReceiver, fake: FakeTime) -> None:
    """A 429 waits the Retry-After seconds, then the same message is posted again and SENT."""
    slack.script(Reply.rate_limited(7), Reply.ok())
    n = notice(lua_alert())
    deliveries = make_notifier(slack.url, fake).send([n])
    assert deliveries == [Delivery((n.alert_id,), Outcome.SENT)]
    assert fake.sleeps == [7.0]
    assert len(slack.requests) == 2 and slack.payloads[0] == slack.payloads[1]


def test_429_beyond_max_retry_after_is_left_pending(slack: SlackReceiver, fake: FakeTime) -> None:
    """A Retry-After longer than max_retry_after is not slept: RETRY with retry_after, batch stops."""
    slack.script(Reply.rate_limited(3600))
    notices = digest_notices()[:3]
    deliveries = make_notifier(slack.url, fake, max_retry_after=60).send(notices)
    assert [d.outcome for d in deliveries] == [Outcome.RETRY] * 3
    assert all(d.retry_after == 3600 and d.detail == "rate_limited" for d in deliveries)
    assert fake.sleeps == [] and len(slack.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retries_with_exponential_backoff_then_retry(
    slack: SlackReceiver, fake: FakeTime, status: int
) -> None:
    """5xx is retried with backoff 1 s, 2 s up to max_attempts, then reported RETRY (kept pending)."""
    slack.script(*[Reply.server_error(status)] * 3)
    n = notice(lua_alert())
    deliveries = make_notifier(slack.url, fake, max_attempts=3, backoff=1.0).send([n])
    assert deliveries == [Delivery((n.alert_id,), Outcome.RETRY, "internal_error")]
    assert fake.sleeps == [1.0, 2.0]
    assert len(slack.requests) == 3


def test_5xx_then_ok_is_sent(slack: SlackReceiver, fake: FakeTime) -> None:
    """A transient 503 followed by 200 ok is SENT after one backoff."""
    slack.script(Reply.server_error(503), Reply.ok())
    deliveries = make_notifier(slack.url, fake).send([notice(lua_alert())])
    assert deliveries[0].outcome is Outcome.SENT and fake.sleeps == [1.0]


def test_connection_refused_is_retried_then_retry(fake: FakeTime) -> None:
    """A connection error from WebhookClient is retried with backoff, then RETRY; nothing raises."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T0/B0/connectionrefusedsecret"
    deliveries = make_notifier(url, fake, max_attempts=3).send(digest_notices()[:2])
    assert [d.outcome for d in deliveries] == [Outcome.RETRY, Outcome.RETRY]
    assert "Connection refused" in deliveries[0].detail
    assert "connectionrefusedsecret" not in deliveries[0].detail
    assert fake.sleeps == [1.0, 2.0]


def test_hang_past_client_timeout_is_transient(slack: SlackReceiver, fake: FakeTime) -> None:
    """A receiver that hangs past the client timeout counts as transient: retried, then RETRY."""
    slack.script(Reply.hanging(10), Reply.hanging(10))
    deliveries = make_notifier(slack.url, fake, timeout=1, max_attempts=2).send([notice(lua_alert())])
    assert deliveries[0].outcome is Outcome.RETRY
    assert "timed out" in deliveries[0].detail
    assert len(slack.requests) == 2 and fake.sleeps == [1.0]


PERMANENT = [
    (400, "invalid_payload"),
    (403, "invalid_token"),
    (403, "action_prohibited"),
    (404, "channel_not_found"),
    (404, "no_service"),
    (410, "channel_is_archived"),
]


@pytest.mark.parametrize(("status", "error"), PERMANENT, ids=[e for _, e in PERMANENT])
def test_permanent_errors_fail_once_with_slacks_error_string(
    slack: SlackReceiver, fake: FakeTime, status: int, error: str
) -> None:
    """400/403/404/410 are FAILED with Slack's error string, never retried, and logged once."""
    slack.script(Reply.error(status, error))
    n = notice(lua_alert())
    with structlog.testing.capture_logs() as logs:
        deliveries = make_notifier(slack.url, fake).send([n])
    assert deliveries == [Delivery((n.alert_id,), Outcome.FAILED, error)]
    assert len(slack.requests) == 1 and fake.sleeps == []
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["event"] == "slack.failed" and errors[0]["error"] == error
    assert errors[0]["status"] == status


def test_gone_webhook_parks_only_the_message_slack_refused(slack: SlackReceiver, fake: FakeTime) -> None:
    """After 410 channel_is_archived that message is FAILED (parked); the rest of the batch is not
    posted and stays pending (RETRY): a notice never attempted is never parked."""
    slack.script(Reply.error(410, "channel_is_archived"))
    with structlog.testing.capture_logs() as logs:
        deliveries = make_notifier(slack.url, fake).send(digest_notices()[:3])
    assert [(d.outcome, d.detail) for d in deliveries] == [
        (Outcome.FAILED, "channel_is_archived"),
        (Outcome.RETRY, "channel_is_archived"),
        (Outcome.RETRY, "channel_is_archived"),
    ]
    assert len(slack.requests) == 1
    assert len([e for e in logs if e["log_level"] == "error"]) == 1


def test_invalid_payload_fails_only_its_own_message(slack: SlackReceiver, fake: FakeTime) -> None:
    """A 400 for one message parks that message only; the next ones are still posted and SENT."""
    slack.script(Reply.error(400, "invalid_payload"))
    deliveries = make_notifier(slack.url, fake).send(digest_notices()[:3])
    assert [d.outcome for d in deliveries] == [Outcome.FAILED, Outcome.SENT, Outcome.SENT]
    assert len(slack.requests) == 3


def test_unexpected_200_body_is_transient(slack: SlackReceiver, fake: FakeTime) -> None:
    """Only 200 with body "ok" is SENT; another 200 body is retried like a 5xx."""
    slack.script(Reply(200, "<html>proxy login</html>"), Reply.ok())
    deliveries = make_notifier(slack.url, fake).send([notice(lua_alert())])
    assert deliveries[0].outcome is Outcome.SENT and len(slack.requests) == 2


def test_metrics_count_alerts_by_outcome(slack: SlackReceiver, fake: FakeTime) -> None:
    """The sent/retried/failed callbacks receive the number of alerts of each outcome."""
    counts: dict[str, int] = {"sent": 0, "retried": 0, "failed": 0}

    def counter(name: str) -> Callable[[int], None]:
        return lambda n: counts.__setitem__(name, counts[name] + n)

    metrics = SlackMetrics(sent=counter("sent"), retried=counter("retried"), failed=counter("failed"))
    notifier = make_notifier(slack.url, fake, metrics=metrics, max_attempts=1)
    slack.script(Reply.ok(), Reply.error(400, "invalid_payload"), Reply.server_error())
    notifier.send(digest_notices()[:4])
    notifier.send(digest_notices())  # one digest of seven
    assert counts == {"sent": 1 + 7, "retried": 2, "failed": 1}


def test_on_delivery_reports_each_message_before_the_next_is_posted(
    slack: SlackReceiver, fake: FakeTime
) -> None:
    """on_delivery sees every Delivery right after its request, so a caller can mark it sent at once."""
    seen: list[tuple[Outcome, int]] = []
    notifier = make_notifier(slack.url, fake)
    notifier.send(digest_notices()[:3], on_delivery=lambda d: seen.append((d.outcome, len(slack.requests))))
    assert seen == [(Outcome.SENT, 1), (Outcome.SENT, 2), (Outcome.SENT, 3)]


def test_empty_send_posts_nothing(slack: SlackReceiver, fake: FakeTime) -> None:
    """No notices, no request, no deliveries."""
    assert make_notifier(slack.url, fake).send([]) == []
    assert slack.requests == []


def test_webhook_url_never_appears_in_logs(
    slack: SlackReceiver, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """The webhook URL is in no structlog event, no stdlib (slack_sdk) record at DEBUG, no Delivery."""
    caplog.set_level(logging.DEBUG)
    secret = slack.token.rsplit("/", 1)[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/services/{slack.token}"
    slack.script(
        Reply.ok(),
        Reply.rate_limited(2),
        Reply.ok(),
        Reply.server_error(),
        Reply.server_error(),
        Reply.error(404, "channel_not_found"),
        Reply.ok(),
        Reply.rate_limited(1),
        Reply.ok(),
    )
    deliveries: list[Delivery] = []
    with structlog.testing.capture_logs() as logs:
        for notifier in (
            make_notifier(slack.url, fake, max_attempts=2),
            make_notifier(dead, fake, max_attempts=2),
            # A client built without webhook_client(): default SDK logger and retry handlers.
            make_notifier(slack.url, fake, max_attempts=2, client=WebhookClient(slack.url, timeout=5)),
        ):
            for batch in (digest_notices()[:1], digest_notices()[1:2], digest_notices()[2:3]):
                deliveries += notifier.send(batch)
    assert {d.outcome for d in deliveries} == {Outcome.SENT, Outcome.RETRY, Outcome.FAILED}
    assert logs and caplog.records
    assert any("Sending a request" in r.getMessage() for r in caplog.records)  # the SDK did log at DEBUG
    for text in [repr(logs), caplog.text, repr(deliveries)]:
        assert secret not in text
        assert slack.token not in text


def test_odd_field_types_never_raise(slack: SlackReceiver, fake: FakeTime) -> None:
    """Fields of unexpected types (lists, objects, naive times) are shown, never raised on."""
    alert = lua_alert()
    alert["host"] = {"name": ["a", "b"], "os": {"type": {"x": 1}}}
    alert["event"]["severity"] = [47]
    alert["hunter"]["queries"] = "fallback"
    alert["hunter"]["events"] = {"not": "a list"}
    alert["process"] = ["not", "an", "object"]
    alert["threat"] = {"technique": {"id": 5, "subtechnique": {"reference": 7}}}
    naive = Notice(alert["event"]["id"], "t1059_011_lua", alert, datetime(2026, 11, 20, 9, 20))
    notifier = make_notifier(slack.url, fake, digest_after=1)
    deliveries = notifier.send([naive]) + notifier.send([naive, notice(lua_alert())])
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.SENT]
    first = slack.payloads[0]
    assert first is not None and "`a, b`" in first["blocks"][2]["fields"][0]["text"]


@settings(max_examples=60, deadline=None)
@given(value=st.text(), name=st.text(min_size=1))
def test_any_event_text_stays_inert_and_within_limits(value: str, name: str) -> None:
    """Any event text yields no Slack control sequence outside rich text, no raw control (bar newlines and
    tabs) anywhere, and no limit breach."""
    alert = lua_alert(host=value, user=name, command_line=value + name)
    alert["message"] = value
    alert["process"]["name"] = name
    fake = FakeTime()
    notifier = make_notifier("http://127.0.0.1:9/services/x", fake, kibana_url=None)
    for message in notifier.messages([notice(alert)]) + notifier.messages([notice(alert)] * 6):
        assert block_problems(message.payload) == []
        for text in marked_up_strings(message.payload):
            assert "<" not in text.replace("<https://attack.mitre.org/", "")
        for element in rich_texts(message.payload):
            assert element["type"] != "text" or esc.utf16_len(element["text"]) <= 3000
        for text in strings(message.payload):
            assert not [
                ch for ch in text if unicodedata.category(ch) in {"Cc", "Cf", "Cs"} and ch not in "\n\t"
            ]
        for text in mrkdwn_texts(message.payload):
            assert text.count("```") % 2 == 0
            assert text.replace("```", "").count("`") % 2 == 0


def test_no_new_message_starts_once_the_send_budget_is_spent(slack: SlackReceiver, fake: FakeTime) -> None:
    """A first message that waited out two Retry-After answers (118 s) uses up the 60 s budget: the
    other notices are left pending for the next run, so their claims never outlive a slow batch."""
    slack.script(Reply.rate_limited(59), Reply.rate_limited(59), Reply.ok())
    notifier = make_notifier(slack.url, fake)
    deliveries = notifier.send(digest_notices()[:3])
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.RETRY, Outcome.RETRY]
    assert "send budget spent" in deliveries[1].detail
    assert len(slack.requests) == 3  # the first message's three attempts, nothing more
