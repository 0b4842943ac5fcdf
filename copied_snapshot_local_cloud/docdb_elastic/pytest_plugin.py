"""A pytest fixture for the local docdb-elastic service: `local_docdb_elastic`, a running server per test.

Enable it in a `conftest.py` with
`pytest_plugins = ["copied_snapshot_local_cloud.docdb_elastic.pytest_plugin"]`, then:

    def test_copy(local_docdb_elastic):
        client = local_docdb_elastic.client(region="us-east-1")
        ...

Override `local_docdb_elastic_options` (a fixture answering `LocalDocDBElastic`'s keyword arguments) to choose
a seed, a `ManualClock`, durations, a quota or accounts, for one test module or the whole suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from copied_snapshot_local_cloud.docdb_elastic.server import LocalDocDBElastic


@pytest.fixture
def local_docdb_elastic_options() -> dict[str, Any]:
    """Keyword arguments for `LocalDocDBElastic`; none by default (seed 0, the wall clock, zero durations)."""
    return {}


@pytest.fixture
def local_docdb_elastic(local_docdb_elastic_options: dict[str, Any]) -> Iterator[LocalDocDBElastic]:
    """A local docdb-elastic service on a free loopback port, stopped when the test ends."""
    with LocalDocDBElastic(**local_docdb_elastic_options) as service:
        yield service
