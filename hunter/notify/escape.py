"""Escaping and truncation of event data for Slack text: mrkdwn, code spans, plain_text, links.

Slack treats ``&``, ``<`` and ``>`` as control characters in mrkdwn text and asks for exactly these
three to be sent as ``&amp;``, ``&lt;``, ``&gt;`` (api.slack.com "Formatting text for app
surfaces", section "Escaping text"). Every ``<...>`` sequence Slack acts on (``<!channel>``,
``<!here>``, ``<@U123>``, ``<#C123>``, ``<!subteam^...>``, ``<!date^...>``, ``<https://...|label>``)
starts with ``<``, so escaped data can never form one. Beyond that:

* Code spans end at the next backtick and mrkdwn has no backslash escape, so a backtick in a value
  is replaced by U+02CB (MODIFIER LETTER GRAVE ACCENT, looks alike), in code and in running text
  alike: data can neither leave a code span nor open one around the template's own text.
* Control and invisible format characters (C0/C1 controls, bidi overrides such as U+202E, zero-width
  characters, Unicode tag characters, line/paragraph separators, lone surrogates) are shown as
  visible escapes (``\\n``, ``\\x1b``, ``\\u202e``), so nothing can hide or reorder text. Only a
  code block keeps real newlines and tabs.
* Lengths are measured in UTF-16 code units (what Slack's limits count, and never less than the
  number of code points), and a value cut short ends with a visible marker ``… [+N chars]``.

Every function here returns :class:`Mrkdwn` (or a plain ``str`` for ``plain_text``): text that is
already safe to place in a Slack text object; the template environment escapes anything else.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Callable

ELLIPSIS = "…"
EMPTY = "—"
BACKTICK_STANDIN = "\u02cb"
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MRKDWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PLAIN_STANDINS = {"<": "\u2039", ">": "\u203a"}
_URL_SAFE = "/:?=&%#@!$'()*+,;~.-_"
_RISON_PLAIN = re.compile(r"[A-Za-z0-9_./~-]+")


class Mrkdwn(str):
    """Text already escaped for a Slack mrkdwn (or plain_text) object; templates emit it as is."""

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
    """Escape ``value`` for mrkdwn running text: entities for ``& < >``, no backticks, controls visible."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    return Mrkdwn(fit(raw, _code_piece, limit))


def code(value: object, limit: int | None = None) -> Mrkdwn:
    """Put ``value`` in an inline code span that it cannot leave (``limit`` counts the backticks)."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    inner = None if limit is None else max(limit - 2, 1)
    return Mrkdwn("`" + fit(raw, _code_piece, inner) + "`")


def code_block(value: object, limit: int | None = None) -> Mrkdwn:
    """Put ``value`` in a code block (newlines and tabs kept) that it cannot leave."""
    raw = _as_text(value)
    if not raw:
        return Mrkdwn(EMPTY)
    inner = None if limit is None else max(limit - 6, 1)
    return Mrkdwn("```" + fit(raw, _code_block_piece, inner) + "```")


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


def _code_block_piece(ch: str) -> str:
    """One character inside a code block (newlines and tabs kept)."""
    if ch == "`":
        return BACKTICK_STANDIN
    return escape_mrkdwn(visible(ch, keep_newlines=True))
