"""ConsoleNotifier: one readable, unforgeable line per notice."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime

from hunter.notify import Delivery, Notice, Outcome
from hunter.notify.console import ConsoleNotifier, format_line

CREATED = datetime(2026, 11, 20, 9, 20, tzinfo=UTC)
ALERT_ID = "b496fcce868c052c5899eecdf9676971ce5757a04462b65516ae00b4b37bf50e"


def lua_notice(**process: object) -> Notice:
    """A notice for a T1059.011 alert on dev-ubuntu-14, with process fields overridden."""
    alert = {
        "event": {"id": ALERT_ID, "severity": 47},
        "host": {"name": "dev-ubuntu-14"},
        "process": {"name": "lua5.4", "pid": 48377, **process},
        "hunter": {
            "hunt": {
                "id": "t1059_011_lua",
                "name": "Lua interpreter abuse (T1059.011)",
                "severity": "medium",
            },
            "queries": ["fallback", "sequence"],
        },
    }
    return Notice(ALERT_ID, "t1059_011_lua", alert, CREATED)


def test_one_line_per_notice_with_the_essentials() -> None:
    """Each notice is one line naming severity, hunt, host, process, queries and alert id; all SENT."""
    stream = io.StringIO()
    deliveries = ConsoleNotifier(stream).send([lua_notice(), lua_notice()])
    assert deliveries == [Delivery((ALERT_ID,), Outcome.SENT)] * 2
    lines = stream.getvalue().splitlines()
    assert (
        lines
        == [
            '[ALERT] MEDIUM hunt="Lua interpreter abuse (T1059.011)" host=dev-ubuntu-14'
            f' process="lua5.4 (pid 48377)" queries=fallback,sequence alert={ALERT_ID}'
        ]
        * 2
    )


def test_control_characters_cannot_forge_or_hide_lines() -> None:
    """Newlines, carriage returns, ANSI escapes and bidi overrides in event data are shown, not obeyed."""
    hostile = "lua\n[ALERT] CRITICAL fake\r\x1b[2K\u202eexe.txt\u200b"
    stream = io.StringIO()
    ConsoleNotifier(stream).send([lua_notice(name=hostile)])
    output = stream.getvalue()
    assert output.count("\n") == 1 and output.endswith("\n")
    assert not [ch for ch in output[:-1] if unicodedata.category(ch) in {"Cc", "Cf"}]
    assert "\\\\n[ALERT] CRITICAL fake\\\\r\\\\x1b[2K\\\\u202eexe.txt\\\\u200b" in output


def test_missing_fields_show_a_dash() -> None:
    """An alert without the usual fields still gives one line, with '-' for what is absent."""
    line = format_line(Notice("x", "t1059_011_lua", {}, CREATED))
    assert line == "[ALERT] UNKNOWN hunt=t1059_011_lua host=- process=- queries=- alert=x"


def test_a_closed_stream_leaves_notices_pending() -> None:
    """If the stream cannot be written the notice is reported RETRY instead of raising."""
    stream = io.StringIO()
    stream.close()
    (delivery,) = ConsoleNotifier(stream).send([lua_notice()])
    assert delivery.outcome is Outcome.RETRY and "ValueError" in delivery.detail
