"""Elasticsearch's own YAML REST tests, one pytest case per section, replayed against the test server.

Each case resets the server, runs the file's setup, the section's steps and the teardown through
the real ``elasticsearch`` client, and fails with the step that did not hold. Sections listed in
:mod:`tests.es_rest.skips` are skipped with their reason; skipped when ``../shared`` is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .replay import Replay, replay
from .skips import SKIPPED
from .suite import Section, available, sections

pytestmark = pytest.mark.skipif(not available(), reason="../shared/es-rest-tests is not present")


@pytest.fixture(scope="module")
def session() -> Iterator[Replay]:
    """One test server and client for every section of the module (reset before each section)."""
    with replay() as running:
        yield running


@pytest.mark.parametrize("section", sections(), ids=lambda s: s.id)
def test_section(section: Section, session: Replay) -> None:
    """The section's steps hold against the test server, as they do against Elasticsearch."""
    outcome = session.outcome(section)
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    assert outcome.status == "passed", outcome.message


def test_skips_name_real_sections() -> None:
    """Every entry of the skip list names a section of the shared files, with a reason."""
    known = {section.id for section in sections()}
    assert sorted(set(SKIPPED) - known) == []
    assert all(reason.strip() for reason in SKIPPED.values())


def test_enough_sections_pass_and_none_fails(session: Replay) -> None:
    """At least 85% of all sections pass and the only sections not passing are the listed skips."""
    outcomes = {section.id: session.outcome(section).status for section in sections()}
    failed = sorted(name for name, status in outcomes.items() if status == "failed")
    assert failed == []
    passed = sum(1 for status in outcomes.values() if status == "passed")
    assert passed >= 0.85 * len(outcomes)
