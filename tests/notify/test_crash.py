"""Slack notices across a crash: a real ``hunter run --once`` process killed with SIGKILL.

The kill happens at a moment the test observes (a request arriving at the Elasticsearch test server
or at the Slack receiver), never after a sleep. What must hold: every alert's notice reaches Slack,
and no notice Slack answered ``ok`` is ever posted again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.es_server import EsTestServer, RecordedRequest
from tests.support.slack_receiver import Reply, SlackReceiver

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-20T15:00:00Z"
HOSTS = ("db-backup-01", "dev-ubuntu-14", "rocky-app-02", "WS-FIN-0231")  # one alert each


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    """A running Slack-compatible receiver."""
    with SlackReceiver() as receiver:
        yield receiver


def start_run(env: dict[str, str], now: str = NOW) -> subprocess.Popen[str]:
    """``hunter run --once --now NOW`` as a child process, from the repository root."""
    return subprocess.Popen(
        [sys.executable, "-m", "hunter.cli", "run", "--once", "--now", now],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the child; its exit code and stderr."""
    _out, err = process.communicate(timeout=120)
    return process.returncode, err


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler runs, nothing is flushed."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def host_of(payload: dict[str, Any] | None) -> str:
    """Which sample host a notice is about (each has one alert)."""
    text = json.dumps(payload)
    (host,) = [host for host in HOSTS if host in text]
    return host


def answered_ok(slack: SlackReceiver) -> Counter[str]:
    """Per host: how many of its notices Slack answered 200 ``ok``."""
    return Counter(host_of(r.payload) for r in slack.requests if r.reply.status == 200 and not r.reply.hang)


def test_killed_after_the_alerts_are_stored_before_any_send(
    es_samples: EsTestServer, slack: SlackReceiver, tmp_path: Path
) -> None:
    """Killed while claiming its first notice (alerts and pending notices stored, nothing sent): the
    next run sends every notice once; a third run sends nothing."""
    server = es_samples
    claiming = threading.Event()
    original = server.record

    def record(request: RecordedRequest) -> None:
        original(request)
        if request.method == "PUT" and "/hunter-state/_doc/notice-" in request.path:
            claiming.set()

    server.record = record  # type: ignore[method-assign]
    # the claim is held until the process is dead, then dropped unanswered (never applied)
    server.faults.add("PUT", r"/hunter-state/_doc/notice-", times=1, delay=30, drop_connection=True)
    env = {
        "HUNTER_MODE": "elasticsearch",
        "HUNTER_ELASTICSEARCH__HOSTS": json.dumps([server.url]),
        "HUNTER_SLACK__WEBHOOK_URL": slack.url,
        "HUNTER_SLACK__MIN_INTERVAL": "0",
    }
    process = start_run(env)
    try:
        assert claiming.wait(60), "the run never claimed a notice"
        kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert slack.requests == []
    with server.client() as client:
        client.indices.refresh(index="logs-hunter.alerts-default")
        assert client.count(index="logs-hunter.alerts-default")["count"] == 4

    code, err = finish(start_run(env))
    assert code == 0, err
    assert answered_ok(slack) == Counter(dict.fromkeys(HOSTS, 1))
    code, err = finish(start_run(env))
    assert code == 0, err
    assert len(slack.requests) == 4


def test_killed_mid_send_never_reposts_a_notice_slack_accepted(slack: SlackReceiver, tmp_path: Path) -> None:
    """Slack accepts the first notice and is still answering the second when the process dies: the
    first is already marked sent and is never posted again; after the dead process's claims expire
    the next run sends the rest (the unanswered one again: a webhook has no idempotency key)."""
    slack.script(Reply.ok(), Reply.hanging(60))
    env = {
        "HUNTER_EMBEDDED__STATE": str(tmp_path / "state.sqlite3"),
        "HUNTER_SLACK__WEBHOOK_URL": slack.url,
        "HUNTER_SLACK__MIN_INTERVAL": "0",
    }
    process = start_run(env)
    try:
        assert slack.wait_for_requests(2, timeout=60), "the second notice never went out"
        kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    first = host_of(slack.requests[0].payload)
    in_flight = host_of(slack.requests[1].payload)

    code, err = finish(start_run(env, "2026-11-20T15:02:00Z"))  # the dead run's claims still hold
    assert code == 0, err
    assert len(slack.requests) == 2
    # Claims are stamped with the real time (not --now): let the dead process's claims age past
    # their 5 minutes as they would by waiting.
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        db.execute(
            "UPDATE notices SET claimed_ns = claimed_ns - ? WHERE status = 'sending'", (6 * 60 * 10**9,)
        )
    code, err = finish(start_run(env, "2026-11-20T15:06:00Z"))  # claims expired
    assert code == 0, err
    posted = Counter(host_of(r.payload) for r in slack.requests)
    assert posted[first] == 1  # accepted before the crash: never again
    assert posted[in_flight] == 2  # unanswered when the process died: sent again
    assert answered_ok(slack) == Counter(dict.fromkeys(HOSTS, 1))
