"""hunter.esclient against the Elasticsearch test server: client options, error classes, retries."""

from __future__ import annotations

import base64
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, Elasticsearch
from pydantic import SecretStr

from hunter.errors import ConfigError
from hunter.esclient import (
    PartialResultsError,
    Retrier,
    build_client,
    describe,
    error_type,
    is_transient,
    status_of,
)
from tests.support.es_data import Sleeps, es_settings
from tests.support.es_server import EsTestServer

ROOT = r"^/$"


def raised(call: Callable[[], Any]) -> BaseException:
    """The exception ``call()`` raises."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - any error is the result here
        return exc
    raise AssertionError("expected an exception")


def test_client_sends_the_api_key_and_does_not_retry_by_itself(server: EsTestServer) -> None:
    """build_client authenticates with the API key header and leaves retries to hunter's Retrier."""
    key = base64.b64encode(b"key-id:key-secret").decode()
    settings = es_settings(server.url, elasticsearch={"api_key": SecretStr(key), "request_timeout": 3})
    server.faults.error(503, path_regex=ROOT)
    with build_client(settings) as client:
        assert isinstance(raised(client.info), ApiError)
        assert client.info()["cluster_name"] == "hunter-test"
    first, second = server.requests_to(ROOT)
    assert first.headers["authorization"] == second.headers["authorization"] == f"ApiKey {key}"


def test_client_api_key_file_and_basic_auth(server: EsTestServer, tmp_path: Path) -> None:
    """The API key may come from a file; without one, username and password give basic auth."""
    key_file = tmp_path / "api_key"
    key_file.write_text("from-a-file\n", encoding="utf-8")
    with build_client(es_settings(server.url, elasticsearch={"api_key_file": key_file})) as client:
        client.info()
    basic = {"username": "hunter", "password": SecretStr("s3cret")}
    with build_client(es_settings(server.url, elasticsearch=basic)) as client:
        client.info()
    keyed, basic_auth = (r.headers["authorization"] for r in server.requests_to(ROOT))
    assert keyed == "ApiKey from-a-file"
    assert basic_auth == "Basic " + base64.b64encode(b"hunter:s3cret").decode()


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        *[(status, True) for status in (408, 429, 500, 502, 503, 504)],
        *[(status, False) for status in (400, 401, 403, 404, 409)],
    ],
)
def test_status_classification(server: EsTestServer, es: Elasticsearch, status: int, transient: bool) -> None:
    """408, 429 and 5xx answers are transient; other 4xx are not."""
    server.faults.error(status, path_regex=ROOT)
    exc = raised(es.info)
    assert status_of(exc) == status
    assert is_transient(exc) is transient


def test_timeouts_dropped_connections_refusals_and_partial_results_are_transient(
    server: EsTestServer,
) -> None:
    """ConnectionTimeout, a dropped connection, connection refused and shard failures are transient."""
    with server.client(request_timeout=0.2) as es:
        server.faults.slow(0.5, path_regex=ROOT)
        timeout = raised(es.info)
        server.faults.drop(path_regex=ROOT)
        dropped = raised(es.info)
        server.stop()
        refused = raised(es.info)
    assert isinstance(timeout, ConnectionTimeout) and isinstance(dropped, ConnectionError)
    assert isinstance(refused, ConnectionError)
    for exc in (timeout, dropped, refused):
        assert is_transient(exc) and status_of(exc) is None
    shards = PartialResultsError([{"reason": {"type": "no_shard_available_action_exception"}}])
    assert is_transient(shards) and str(shards) == "no_shard_available_action_exception"
    assert not is_transient(ValueError("a bug"))


def test_error_descriptions_carry_elasticsearch_type_and_reason(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """describe() and error_type() give ES's error type and reason, or the connection problem."""
    server.faults.error(503, path_regex=ROOT)
    unavailable = raised(es.info)
    reason = "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"
    assert error_type(unavailable) == ("cluster_block_exception", reason)
    assert describe(unavailable) == f"503 cluster_block_exception: {reason}"
    server.faults.drop(path_regex=ROOT)
    assert describe(raised(es.info)).startswith("ConnectionError: ")


def test_retrier_backs_off_exponentially_with_jitter_then_succeeds(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """Transient failures are retried after backoff * 2**n delays, +-50% jitter; the answer is returned."""
    server.faults.error(503, path_regex=ROOT, times=3)
    sleeps = Sleeps()
    retrier = Retrier(attempts=4, backoff=1.0, sleep=sleeps, rng=random.Random(7))
    assert retrier.call("info", es.info)["cluster_name"] == "hunter-test"
    assert retrier.retried == 3 and len(server.requests_to(ROOT)) == 4
    for delay, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base * 0.5 <= delay <= base * 1.5


def test_retrier_honours_retry_after(server: EsTestServer, es: Elasticsearch) -> None:
    """A 429 with Retry-After waits exactly that long before the retry."""
    server.faults.rejected(path_regex=ROOT, retry_after=7)
    sleeps = Sleeps()
    Retrier(sleep=sleeps).call("info", es.info)
    assert sleeps == [7.0]


def test_retrier_gives_up_with_the_last_error(server: EsTestServer, es: Elasticsearch) -> None:
    """After the last attempt the transient error itself is raised."""
    server.faults.error(502, path_regex=ROOT, times=None)
    sleeps = Sleeps()
    retrier = Retrier(attempts=3, sleep=sleeps)
    with pytest.raises(ApiError) as failed:
        retrier.call("info", es.info)
    assert failed.value.status_code == 502
    assert len(sleeps) == 2 and len(server.requests_to(ROOT)) == 3


def test_retrier_does_not_retry_permanent_errors(server: EsTestServer, es: Elasticsearch) -> None:
    """A 400 is raised at once, without sleeping."""
    server.faults.error(400, path_regex=ROOT)
    sleeps = Sleeps()
    with pytest.raises(ApiError):
        Retrier(sleep=sleeps).call("info", es.info)
    assert sleeps == [] and len(server.requests_to(ROOT)) == 1


def test_a_missing_ca_certs_file_is_a_startup_error_naming_the_setting(tmp_path: Path) -> None:
    """elasticsearch.ca_certs that cannot be read stops the start with a ConfigError naming it."""
    settings = es_settings("https://127.0.0.1:9", elasticsearch={"ca_certs": tmp_path / "missing.crt"})
    with pytest.raises(ConfigError, match=r"^elasticsearch\.ca_certs: cannot read .*missing\.crt: "):
        build_client(settings)


def test_connection_errors_are_described_with_their_cause(tmp_path: Path) -> None:
    """The client says only "Connection error" / "TLS error": the description adds the real cause."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Elasticsearch(f"http://127.0.0.1:{port}", max_retries=0, request_timeout=2) as client:
        text = describe(raised(client.info))
    assert text.startswith("ConnectionError: Connection error (")
    assert "Connection refused" in text
