"""The shipped alert template written out in Python (hunter/shipped_template.py) builds the documents
Jinja renders from templates/alert.json.j2, byte for byte, and only that template is built so."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hunter import shipped_template
from hunter.alerts import ALERT_TEMPLATE, AlertRenderer, merge_into
from hunter.dedup import Finding, findings
from hunter.hunts import Hunt
from hunter.results import Event, Match, QueryResult, Window
from tests.conftest import TEMPLATES, lua_exec, ns, utc
from tests.test_alerts import CREATED, _alert_events

T = utc("2026-11-20T10:00:00Z")
LATER = utc("2026-11-20T10:05:00Z")


@pytest.fixture(scope="module")
def renderers(tmp_path_factory: pytest.TempPathFactory) -> tuple[AlertRenderer, AlertRenderer]:
    """The renderer over templates/ and one over a copy that differs by a trailing comment only
    (rendered by Jinja, to the same text)."""
    folder = tmp_path_factory.mktemp("templates")
    text = (TEMPLATES / ALERT_TEMPLATE).read_text(encoding="utf-8")
    (folder / ALERT_TEMPLATE).write_text(text + "{#- a comment: the same document -#}\n", encoding="utf-8")
    built, rendered = AlertRenderer(TEMPLATES), AlertRenderer(folder)
    assert built.shipped and not rendered.shipped
    return built, rendered


def test_the_shipped_template_is_the_one_written_out() -> None:
    """Editing templates/alert.json.j2 needs hunter/shipped_template.py (and its SHA256) changed too."""
    digest = hashlib.sha256((TEMPLATES / ALERT_TEMPLATE).read_bytes()).hexdigest()
    assert digest == shipped_template.SHA256, (
        "templates/alert.json.j2 changed: write the change into hunter/shipped_template.py and set its "
        f"SHA256 to {digest}"
    )


def test_an_edited_template_is_rendered_by_jinja(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A template that is not the shipped one is what the document shows."""
    text = (TEMPLATES / ALERT_TEMPLATE).read_text(encoding="utf-8")
    (tmp_path / ALERT_TEMPLATE).write_text(text.replace('"module": "hunter"', '"module": "edited"'), "utf-8")
    renderer = AlertRenderer(tmp_path)
    document = renderer.render(lua_hunt, _finding(lua_hunt, {}), window=None, created=CREATED, now=CREATED)
    assert not renderer.shipped
    assert document["event"]["module"] == "edited"


def _findings(hunt: Hunt, extra: dict[str, Any], *, count: int = 1, query: str = "fallback") -> list[Finding]:
    """The findings of ``count`` Lua events of one process, each with ``extra``'s fields over its own
    (one finding, unless ``extra`` takes the process's identity away)."""
    events = []
    for number in range(count):
        hit = lua_exec(T.replace(second=number), doc_id=f"e{number}", entity_id="L")
        hit["_source"].update(extra)
        hit["_source"]["@timestamp"] = f"2026-11-20T10:00:{number:02d}.000Z"
        source = hit["_source"]
        events.append(Event(hit["_index"], hit["_id"], source, ns(T.replace(second=number))))
    return findings(hunt, [QueryResult(query, [Match(query, (event,)) for event in events])])


def _finding(hunt: Hunt, extra: dict[str, Any], *, query: str = "fallback") -> Finding:
    (finding,) = _findings(hunt, extra, query=query)
    return finding


_HUNT_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "threat": st.just(()),
        "references": st.sampled_from([(), ("https://example.com/a", "https://example.com/b")]),
        "license": st.sampled_from(["", "Elastic License v2"]),
        "version": st.sampled_from([None, 0, 7]),
        "building_block": st.booleans(),
        "notes": st.sampled_from(["", "Triage: look at the parent."]),
        "source": st.sampled_from(["hunter", "detection-rules", "sigma"]),
        "tags": st.sampled_from([(), ("Domain: Endpoint", "OS: Linux")]),
        "false_positives": st.sampled_from([(), ("Admins' scripts",)]),
        "author": st.sampled_from([(), ("Elastic", "hunter")]),
        "description": st.sampled_from(["", 'A "quoted" <b>description</b>\n']),
    },
)


@given(
    extra=_alert_events(),
    changes=_HUNT_CHANGES,
    count=st.integers(1, 3),
    window=st.booleans(),
    merged=st.booleans(),
    suppressed=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_built_documents_are_the_rendered_ones(
    renderers: tuple[AlertRenderer, AlertRenderer],
    lua_hunt: Hunt,
    extra: dict[str, Any],
    changes: dict[str, Any],
    count: int,
    window: bool,
    merged: bool,
    suppressed: bool,
) -> None:
    """Over events holding any of the fields an alert reads, hunts with and without their optional
    parts, new and merged alerts, with and without a window or a suppression record: the same JSON."""
    hunt = dataclasses.replace(lua_hunt, **changes)
    options: dict[str, Any] = {
        "window": Window(ns(T), ns(LATER)) if window else None,
        "created": CREATED,
        "now": CREATED,
        "suppressed": {"alert_ids": ["a", "b"], "count": 2} if suppressed else None,
    }
    later = _finding(hunt, {"process": {"pid": 7, "name": "lua5.4"}}, query="sequence")
    for finding in _findings(hunt, extra, count=count):
        documents = []
        for renderer in renderers:
            document = renderer.render(hunt, finding, **options)
            if merged:  # a later finding merged into the stored alert: carried sections
                merged_finding, sections, _changed = merge_into(document, later)
                document = renderer.render(hunt, merged_finding, sections=sections, version=2, **options)
            documents.append(document)
        assert orjson.dumps(documents[0]) == orjson.dumps(documents[1])


@pytest.mark.parametrize("event", [{}, {"kind": "event"}, {"category": []}, {"category": [None, "process"]}])
def test_a_member_without_a_category_is_built_as_rendered(
    renderers: tuple[AlertRenderer, AlertRenderer], lua_hunt: Hunt, event: dict[str, Any]
) -> None:
    """A member event with no ``event.category`` (Sysmon's, many others) lists no empty one: the
    builder leaves the member entries unwalked only while each has a category."""
    finding = _finding(lua_hunt, {"event": event})
    built, rendered = (
        renderer.render(lua_hunt, finding, window=None, created=CREATED, now=CREATED)
        for renderer in renderers
    )
    assert orjson.dumps(built) == orjson.dumps(rendered)


def test_a_built_document_owns_what_it_holds(
    renderers: tuple[AlertRenderer, AlertRenderer], lua_hunt: Hunt
) -> None:
    """Changing one alert's threat, tags or lists changes no other alert of the hunt."""
    built, _rendered = renderers
    lua_hunt = dataclasses.replace(lua_hunt, author=("Elastic",), false_positives=("Admins",))
    first = built.render(lua_hunt, _finding(lua_hunt, {}), window=None, created=CREATED, now=CREATED)
    expected = orjson.dumps(first)
    first["threat"]["tactic"]["id"].append("TA9999")
    first["threat"]["technique"]["id"].clear()
    first["tags"].append("changed")
    first["rule"]["author"].append("changed")
    first["hunter"]["false_positives"].append("changed")
    second = built.render(lua_hunt, _finding(lua_hunt, {}), window=None, created=CREATED, now=CREATED)
    assert orjson.dumps(second) == expected


def test_a_merged_document_shares_nothing_with_the_stored_alert(
    renderers: tuple[AlertRenderer, AlertRenderer], lua_hunt: Hunt
) -> None:
    """The sections a merged alert carries over (host, process, evidence, suppression) are its own."""
    built, _rendered = renderers
    stored = built.render(
        lua_hunt, _finding(lua_hunt, {}), window=None, created=CREATED, now=CREATED, suppressed={"count": 1}
    )
    before = orjson.dumps(stored)
    later = _finding(lua_hunt, {}, query="sequence")
    merged, sections, _changed = merge_into(stored, later)
    options: dict[str, Any] = {"window": None, "created": CREATED, "now": CREATED, "suppressed": {"count": 1}}
    document = built.render(lua_hunt, merged, sections=sections, **options)
    document["process"]["name"] = "changed"
    document["host"]["os"]["type"] = "changed"
    document["hunter"]["events"][0]["process"]["pid"] = -1
    assert orjson.dumps(stored) == before
