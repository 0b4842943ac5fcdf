"""Serving the emulator on loopback: a context manager for tests and a long-running server for the CLI."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local_cloud.docdb_elastic import control, identity
from local_cloud.docdb_elastic.calls import CallLog
from local_cloud.docdb_elastic.clock import Clock
from local_cloud.docdb_elastic.faults import Faults
from local_cloud.docdb_elastic.service import DocDBElasticService
from local_cloud.docdb_elastic.state import DEFAULT_SNAPSHOT_QUOTA, Backend, Durations

if TYPE_CHECKING:
    from mypy_boto3_docdb_elastic import DocDBElasticClient

LOOPBACK = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """Requests are recorded in the call log; printing each one as well would drown test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class LocalDocDBElastic:
    """The local docdb-elastic service on a free loopback port.

    >>> with LocalDocDBElastic(seed=7) as service:
    ...     client = service.client(region="us-east-1")
    """

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
        durations: Durations | None = None,
        snapshot_quota: int = DEFAULT_SNAPSHOT_QUOTA,
        accounts: Mapping[str, str] | None = None,
        default_account: str = identity.DEFAULT_ACCOUNT,
    ) -> None:
        self.faults = Faults(seed)
        self.backend = Backend(
            clock=clock, faults=self.faults, durations=durations, snapshot_quota=snapshot_quota, seed=seed
        )
        self.calls = CallLog()
        self.service = DocDBElasticService(
            self.backend, calls=self.calls, accounts=accounts, default_account=default_account
        )
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local docdb-elastic service is not running; use it as a context manager")
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> Self:
        self._server = make_server(
            self._host, self._port, self.service, threaded=True, request_handler=_QuietHandler
        )
        # A short poll interval makes stop() quick; the server is idle-cheap either way.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-docdb-elastic", daemon=True
        )
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (the CLI serves this way until interrupted)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def client(
        self, *, region: str = "us-east-1", account: str = identity.DEFAULT_ACCOUNT
    ) -> DocDBElasticClient:
        """A boto3 client for this service, acting as `account` in `region`. It makes no retries of its own,
        so injected faults reach the caller as they happen."""
        return boto3.client(
            "docdb-elastic",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=account,
            aws_secret_access_key="local",  # noqa: S106 - the local service checks no secret
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )

    def seed(self, spec: Mapping[str, Any]) -> dict[str, list[str]]:
        """Clusters and snapshots that already exist; see `control.seed` for the format."""
        return control.seed(self.backend, spec)

    def configure(self, spec: Mapping[str, Any]) -> None:
        """Durations, quota and faults as data; see `control.configure` for the format."""
        control.configure(self.backend, spec)
