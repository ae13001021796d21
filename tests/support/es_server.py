"""An Elasticsearch-compatible test server: real HTTP on 127.0.0.1, indices in memory, faults on demand.

hunter's Elasticsearch path is tested against this server through the real ``elasticsearch``
client, since no Elasticsearch can run where the tests run::

    with EsTestServer() as server:
        es = Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=0)
        server.faults.error(503, path_regex=r"/_eql/search")   # the next EQL search gets a 503
        ...
        server.stop()    # clients now see "connection refused"
        server.start()   # the same port, the same data

It answers like Elasticsearch 9 (and is measured against Elasticsearch's own YAML REST tests by
``tests/es_rest``): the endpoints, URL parameters and methods of :mod:`~tests.support.es_api`,
cluster state and index creation in :mod:`~tests.support.es_cluster`, templates, data streams
and rollover, documents and ``_bulk``, search, field caps and EQL (run by hunter.eql) in their
own modules, with Elasticsearch's response and error bodies; every response carries
``X-Elastic-Product: Elasticsearch``. ``server.faults`` (:mod:`~tests.support.es_faults`)
injects misbehaviour; ``server.requests`` records what clients sent. One lock guards the state;
injected delays never hold it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch

from .es_cluster import VERSION, Cluster
from .es_errors import EsError, index_not_found
from .es_faults import Fault, FaultPlan, RecordedRequest, error_for
from .es_http import HttpServer

__all__ = [
    "VERSION",
    "EsError",
    "EsTestServer",
    "Fault",
    "FaultPlan",
    "RecordedRequest",
    "error_for",
    "index_not_found",
    "serve",
]


class EsTestServer:
    """An Elasticsearch-compatible server on 127.0.0.1 for tests; ``with`` starts and stops it.

    ``url`` is what clients connect to; ``faults`` (:class:`FaultPlan`) injects misbehaviour;
    ``requests`` lists what clients sent; ``stop()`` makes clients see connection refused and
    ``start()`` serves again on the same port with the same data. ``auto_refresh=False`` makes
    writes searchable only after a refresh (``refresh`` parameter or ``_refresh``), as a real
    cluster between its periodic refreshes; reads by id always see them. ``reset()`` forgets
    every index, template and data stream (a fresh cluster on the same port).
    """

    def __init__(self, port: int = 0, *, auto_refresh: bool = True) -> None:
        self.lock = threading.RLock()
        self.auto_refresh = auto_refresh
        self.cluster = Cluster(self.lock, auto_refresh=auto_refresh)
        self.faults = FaultPlan(self.lock)
        self.requests: list[RecordedRequest] = []
        self.port = port
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:{port}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Is the server accepting connections?"""
        return self._httpd is not None

    def start(self) -> EsTestServer:
        """Listen (again) on ``port`` (a free one the first time when 0)."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = HttpServer(("127.0.0.1", self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections; the data stays for :meth:`start`."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for connection in list(httpd.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> None:
        """Stop, then start on the same port."""
        self.stop()
        self.start()

    def reset(self) -> None:
        """A fresh cluster (built-in templates only), no faults, no recorded requests."""
        with self.lock:
            self.cluster = Cluster(self.lock, auto_refresh=self.auto_refresh)
            self.faults.clear()
            self.requests.clear()

    def __enter__(self) -> EsTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, **options: Any) -> Elasticsearch:
        """An ``Elasticsearch`` client for this server (``request_timeout=5, max_retries=0`` unless given)."""
        options.setdefault("request_timeout", 5)
        options.setdefault("max_retries", 0)
        return Elasticsearch(hosts=[self.url], **options)

    def record(self, request: RecordedRequest) -> None:
        """Log a request (called by the handler)."""
        with self.lock:
            self.requests.append(request)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        """The logged requests whose path matches ``path_regex`` (and ``method``)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if re.search(path_regex, r.path) and (method is None or r.method == method.upper())
            ]

    def pause(self, seconds: float) -> bool:
        """Sleep without the lock; True when the server was stopped meanwhile."""
        return self._stopping.wait(seconds)


def serve(**options: Any) -> Iterator[EsTestServer]:
    """A started server for a pytest fixture: ``yield from serve()``; stopped afterwards."""
    server = EsTestServer(**options).start()
    try:
        yield server
    finally:
        server.stop()
