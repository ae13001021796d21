"""Escaping and truncation of event data for Slack text, per context: rich text, code spans, code
blocks, running mrkdwn text, plain_text, links.

Slack treats ``&``, ``<`` and ``>`` as control characters in mrkdwn text and asks for exactly these
three to be sent as ``&amp;``, ``&lt;``, ``&gt;`` (api.slack.com "Formatting text for app
surfaces", section "Escaping text"); it has no escape for anything else, no backslash escape for
``*``, ``_``, ``~`` or a backtick. Every ``<...>`` sequence Slack acts on (``<!channel>``,
``<!here>``, ``<@U123>``, ``<#C123>``, ``<!subteam^...>``, ``<!date^...>``, ``<https://...|label>``)
starts with ``<``, so escaped data can never form one. So each context gets what keeps data data:

* **Rich text** (:func:`literal`): a ``text`` element of a ``rich_text`` block is shown as written:
  Slack parses no mrkdwn, entities or mentions in it (mentions and links are elements of their own,
  which hunter never builds from event data). This is where text is shown faithfully: a command
  line keeps its backticks, ``*``, ``_``, ``~``, ``&``, ``<`` and ``>``.
* **Code blocks** (:func:`code_block`): nothing inside is formatted, and only a run of three
  backticks ends one; a backtick that could join the fences (a run of three or more, or one that
  touches the block's first or last character) is shown as U+02CB (MODIFIER LETTER GRAVE ACCENT,
  looks alike), every other backtick stays.
* **Code spans** (:func:`code`): nothing inside is formatted, but the next backtick ends the span, so
  every backtick is shown as U+02CB.
* **Running mrkdwn text** (:func:`text`): ``*``, ``_``, ``~`` and backticks would bold, italicise,
  strike or open code around the template's own text, so they are shown as look-alikes (U+2217 ∗,
  U+02CD ˍ, U+223C ∼, U+02CB ˋ). Templates put event data into rich text or code instead wherever
  the exact characters matter.
* Control and invisible format characters (C0/C1 controls, bidi overrides such as U+202E, zero-width
  characters, Unicode tag characters, line/paragraph separators, lone surrogates) are shown as
  visible escapes (``\\n``, ``\\x1b``, ``\\u202e``) everywhere, so nothing can hide or reorder
  text. Only code blocks and rich text keep real newlines and tabs.
* Numbers (:func:`number`) are shown as numbers: ``47``, never ``47.0``.
* Lengths are measured in UTF-16 code units (what Slack's limits count, and never less than the
  number of code points), and a value cut short ends with a visible marker ``… [+N chars]``.

Every function here returns :class:`Mrkdwn` (safe in a mrkdwn or plain_text object) or
:class:`Literal` (safe only as the text of a rich_text element): text the template environment
emits as it is; it escapes anything else for mrkdwn.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Callable

ELLIPSIS = "…"
EMPTY = "—"
BACKTICK_STANDIN = "\u02cb"
# running mrkdwn text: the formatting characters and their look-alikes
FORMAT_STANDINS = {"`": BACKTICK_STANDIN, "*": "\u2217", "_": "\u02cd", "~": "\u223c"}
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MRKDWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PLAIN_STANDINS = {"<": "\u2039", ">": "\u203a"}
_URL_SAFE = "/:?=&%#@!$'()*+,;~.-_"
_RISON_PLAIN = re.compile(r"[A-Za-z0-9_./~-]+")
_BACKTICK_RUN = re.compile(r"`+")


class Mrkdwn(str):
    """Text already escaped for a Slack mrkdwn (or plain_text) object; templates emit it as is."""

    __slots__ = ()


class Literal(str):
    """Text for a rich_text ``text`` element, which Slack shows as written (not for mrkdwn objects)."""

    __slots__ = ()


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (an astral character counts two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible(ch: str, *, keep_newlines: bool = False) -> str:
    """Return ``ch`` itself, or a visible escape for a control or invisible format character."""
    if keep_newlines and ch in "\n\t":
        return ch
    if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES:
        return ch
    if ch in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def neutralise(value: object, *, keep_newlines: bool = False) -> str:
    """Return ``value`` as text with every control or invisible character made visible."""
    text = _as_text(value)
    return "".join(visible(ch, keep_newlines=keep_newlines) for ch in text)


def escape_mrkdwn(text: str) -> str:
    """Replace Slack's three control characters ``& < >`` by their HTML entities (nothing else)."""
    return "".join(_MRKDWN_ENTITIES.get(ch, ch) for ch in text)


def marker(omitted: int) -> str:
    """The visible marker that ends a value cut short, naming how many characters were left out."""
    return f"{ELLIPSIS} [+{omitted} chars]"


def fit(raw: str, piece: Callable[[str], str], limit: int | None) -> str:
    """Map each character of ``raw`` through ``piece``; cut at ``limit`` UTF-16 units with a marker.

    Cutting happens between pieces, so an entity (``&amp;``) or an escape (``\\x1b``) is never split.
    """
    if limit is None:
        return "".join(piece(ch) for ch in raw)
    # Every piece is at least one unit long, so no more than ``limit`` characters can ever fit.
    head = raw[: limit + 1]
    pieces = [piece(ch) for ch in head]
    total = sum(utf16_len(p) for p in pieces)
    if len(head) == len(raw) and total <= limit:
        return "".join(pieces)
    budget = limit - utf16_len(marker(len(raw)))
    out: list[str] = []
    used = 0
    for p in pieces:
        size = utf16_len(p)
        if used + size > budget:
            break
        out.append(p)
        used += size
    return "".join(out) + marker(len(raw) - len(out))


def text(value: object, limit: int | None = None) -> Mrkdwn:
    """Escape ``value`` for mrkdwn running text: entities for ``& < >``, look-alikes for the formatting
    characters ``* _ ~`` and backticks, controls visible."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    return Mrkdwn(fit(raw, _text_piece, limit))


def literal(value: object, limit: int | None = None) -> Literal:
    """``value`` as the text of a rich_text element: every character as it is (newlines and tabs too),
    only controls and invisible characters made visible; cut at ``limit`` with a marker."""
    raw = _as_text(value)
    if not raw:
        return Literal(EMPTY)
    return Literal(fit(raw, lambda ch: visible(ch, keep_newlines=True), limit))


def number(value: object) -> Mrkdwn:
    """A number as people write it (``47``, ``0.5``; an integral float loses its ``.0``); anything that
    is not a number is escaped as running text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text(value, 40)
    if isinstance(value, float) and value.is_integer():
        return Mrkdwn(str(int(value)))
    return Mrkdwn(format(value, "g") if isinstance(value, float) else str(value))


def code(value: object, limit: int | None = None) -> Mrkdwn:
    """Put ``value`` in an inline code span that it cannot leave (``limit`` counts the backticks)."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    inner = None if limit is None else max(limit - 2, 1)
    return Mrkdwn("`" + fit(raw, _code_piece, inner) + "`")


def code_block(value: object, limit: int | None = None) -> Mrkdwn:
    """Put ``value`` in a code block (newlines and tabs kept) that it cannot leave; its backticks stay
    but those that could join the fences (runs of three or more, or at either end) become U+02CB."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    inner = None if limit is None else max(limit - 6, 1)
    return Mrkdwn("```" + fit(_fence_safe(raw), _code_block_piece, inner) + "```")


def plain(value: object, limit: int | None = None) -> Mrkdwn:
    """Make ``value`` safe for a ``plain_text`` object: controls visible, ``< >`` as look-alikes.

    plain_text is not parsed for mentions or links; the look-alikes keep even a careless reader of
    the JSON payload from seeing a ``<!channel>``-like sequence there.
    """
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    return Mrkdwn(fit(raw, lambda ch: _PLAIN_STANDINS.get(ch, visible(ch)), limit))


def safe_url(url: object, *, allowed_prefixes: tuple[str, ...]) -> str | None:
    """Return ``url`` ready for a mrkdwn link, or None if it is not http(s) under an allowed prefix.

    Characters that would end the link or its URL part (``| < > "``, spaces, controls) are
    percent-encoded and ``&`` becomes ``&amp;`` (Slack decodes entities in link URLs).
    """
    if not isinstance(url, str) or not url:
        return None
    if not any(url.startswith(prefix) for prefix in allowed_prefixes):
        return None
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in {"http", "https"}:
        return None
    return escape_mrkdwn(urllib.parse.quote(url, safe=_URL_SAFE))


def link(url: object, label: object, *, allowed_prefixes: tuple[str, ...], limit: int = 300) -> Mrkdwn:
    """A mrkdwn link ``<url|label>`` to an allowed destination; otherwise just the escaped label."""
    target = safe_url(url, allowed_prefixes=allowed_prefixes)
    shown = text(label, limit)
    if target is None:
        return shown
    return Mrkdwn(f"<{target}|{shown}>")


def rison_string(value: str) -> str:
    """Encode ``value`` as a Rison string (Kibana URL state): quoted, with ``!`` and ``'`` escaped."""
    if _RISON_PLAIN.fullmatch(value) and not value[0].isdigit() and value[0] != "-":
        return value
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def _as_text(value: object) -> str:
    """Return ``value`` as a string: None is empty, lists are joined with ', '."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_as_text(v) for v in value if v is not None)
    return str(value)


def _code_piece(ch: str) -> str:
    """One character of running text or of an inline code span."""
    if ch == "`":
        return BACKTICK_STANDIN
    return escape_mrkdwn(visible(ch))


def _text_piece(ch: str) -> str:
    """One character of running mrkdwn text (formatting characters as look-alikes)."""
    if ch in FORMAT_STANDINS:
        return FORMAT_STANDINS[ch]
    return escape_mrkdwn(visible(ch))


def _code_block_piece(ch: str) -> str:
    """One character inside a code block (newlines and tabs kept; backticks already made fence-safe)."""
    return escape_mrkdwn(visible(ch, keep_newlines=True))


def _fence_safe(raw: str) -> str:
    """Backticks that could close (or merge with) a code block's fences as U+02CB, the others kept:
    every run of three or more, and a run at the very start or end of the block's content."""

    def swap(match: re.Match[str]) -> str:
        run = match.group(0)
        at_edge = match.start() == 0 or match.end() == len(raw)
        return BACKTICK_STANDIN * len(run) if len(run) >= 3 or at_edge else run

    return _BACKTICK_RUN.sub(swap, raw)
