"""Helpers for tests of the local docdb-elastic service: a served instance on a manual clock, built on the
service's own pytest fixture."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from copied_snapshot_local_cloud.docdb_elastic import LocalDocDBElastic, ManualClock, pytest_plugin
from tests.support.constants import ACCOUNT, REGION

SOURCE_REGION = "us-west-2"
SOURCE_KEY = f"arn:aws:kms:{SOURCE_REGION}:{ACCOUNT}:key/1111aaaa-1111-4111-8111-111111111111"
COPY_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/2222bbbb-2222-4222-8222-222222222222"


class Served:
    """A running service, its manual clock, and clients acting in it."""

    def __init__(self, service: LocalDocDBElastic, clock: ManualClock) -> None:
        self.service = service
        self.clock = clock
        self.client = service.client(region=REGION, account=ACCOUNT)

    def seed_snapshot(self, name: str = "source", **options: Any) -> str:
        return self.service.backend.seed_snapshot(account=ACCOUNT, region=REGION, name=name, **options).arn

    def control(self, method: str, action: str, body: Any = None) -> tuple[int, Any]:
        """A call to the HTTP control API: (status, decoded JSON)."""
        return http(method, f"{self.service.endpoint_url}/_local/{action}", body)


def signed(account: str = ACCOUNT, region: str = REGION) -> dict[str, str]:
    """An Authorization header with a SigV4 credential scope (the local service reads, not checks, it)."""
    scope = f"{account}/20261127/{region}/docdb-elastic/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"}


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, {"headers": dict(error.headers), "body": json.loads(error.read() or b"null")}


# The service's own fixture. It is imported rather than enabled with `pytest_plugins`: this module is itself a
# plugin, and a plugin it enabled would register after it and take back `local_docdb_elastic_options`.
local_docdb_elastic = pytest_plugin.local_docdb_elastic


@pytest.fixture
def local_docdb_elastic_options() -> dict[str, Any]:
    """The project's tests run the service on a manual clock, with a fixed seed."""
    return {"seed": 1, "clock": ManualClock()}


@pytest.fixture
def served(local_docdb_elastic: LocalDocDBElastic, local_docdb_elastic_options: dict[str, Any]) -> Served:
    return Served(local_docdb_elastic, local_docdb_elastic_options["clock"])
