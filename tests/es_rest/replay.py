"""Run sections against the test server and tell passed, skipped (listed) and failed apart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.es_server import EsTestServer

from .runner import RestClient, SectionRun, ServerInfo, StepFailedError, make_client, prerequisite_problem
from .skips import SKIPPED
from .suite import Section


@dataclass(frozen=True)
class Outcome:
    """``passed``, ``skipped`` or ``failed``, and why."""

    status: str
    message: str = ""


@dataclass
class Replay:
    """A running test server, a client on it and what the server declares."""

    server: EsTestServer
    client: RestClient
    info: ServerInfo

    def outcome(self, section: Section) -> Outcome:
        """Run ``section`` on a reset server unless the skip list names it."""
        if section.id in SKIPPED:
            return Outcome("skipped", SKIPPED[section.id])
        self.server.reset()
        problem = prerequisite_problem(section, self.info)
        if problem is not None:
            return Outcome(
                "failed", f"its prerequisites keep it from running but it is not in skips.py: {problem}"
            )
        try:
            SectionRun(self.client).run(section)
        except StepFailedError as error:
            return Outcome("failed", str(error))
        return Outcome("passed")


@contextmanager
def replay() -> Iterator[Replay]:
    """A started test server and client for replaying sections; stopped afterwards."""
    server = EsTestServer().start()
    client = make_client(server.url)
    try:
        yield Replay(server, client, ServerInfo.read(client))
    finally:
        client.close()
        server.stop()
