"""Serving the emulator on loopback: a context manager for tests and a long-running server for the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer

from copied_snapshot_local_cloud.docdb_elastic import control, identity, serving
from copied_snapshot_local_cloud.docdb_elastic.calls import CallLog
from copied_snapshot_local_cloud.docdb_elastic.clock import Clock
from copied_snapshot_local_cloud.docdb_elastic.faults import Faults
from copied_snapshot_local_cloud.docdb_elastic.service import DocDBElasticService
from copied_snapshot_local_cloud.docdb_elastic.state import DEFAULT_SNAPSHOT_QUOTA, Backend, Durations

if TYPE_CHECKING:
    from mypy_boto3_docdb_elastic import DocDBElasticClient


# A client's default: one attempt per call, so tests see each injected fault.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


class LocalDocDBElastic(serving.Running):
    """The local docdb-elastic service on a free loopback port.

    >>> with LocalDocDBElastic(seed=7) as service:
    ...     client = service.client(region="us-east-1")
    """

    def __init__(
        self,
        *,
        host: str = serving.LOOPBACK,
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

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local docdb-elastic service is not running; use it as a context manager")
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> Self:
        self._server = serving.serve(
            self.service, host=self._host, port=self._port, name="local-docdb-elastic"
        )
        return self

    def stop(self) -> None:
        serving.stop(self._server)
        self._server = None

    def client(
        self,
        *,
        region: str = "us-east-1",
        account: str = identity.DEFAULT_ACCOUNT,
        config: Config | None = None,
    ) -> DocDBElasticClient:
        """A boto3 client for this service, acting as `account` in `region`.

        By default it makes no retries of its own, so injected faults reach the caller as they happen. A
        `config` is merged over that default (its `retries`, timeouts, user agent and the rest win); the
        endpoint, credentials and region are always the ones this service and the arguments name.
        """
        merged = NO_RETRIES if config is None else NO_RETRIES.merge(config)
        return boto3.client(
            "docdb-elastic",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=account,
            aws_secret_access_key="local",  # noqa: S106 - the local service checks no secret
            config=merged,
        )

    def seed(self, spec: Mapping[str, Any]) -> dict[str, list[str]]:
        """Clusters and snapshots that already exist; see `control.seed` for the format."""
        return control.seed(self.backend, spec)

    def configure(self, spec: Mapping[str, Any]) -> None:
        """Durations, quota and faults as data; see `control.configure` for the format."""
        control.configure(self.backend, spec)
