"""The local docdb-elastic service on its own: it imports nothing else of the local cloud, its pytest fixture
works in another project's suite, and its clients take a botocore `Config`."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from copied_snapshot_local_cloud import serving as local_serving
from copied_snapshot_local_cloud.docdb_elastic import LocalDocDBElastic, serving
from tests.support.constants import ROOT
from tests.support.local_service import Served

PACKAGE = ROOT / "copied_snapshot_local_cloud" / "docdb_elastic"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = ".".join(["copied_snapshot_local_cloud", "docdb_elastic"][: 2 - (node.level - 1)])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
    return found


def outside_the_service(module: str) -> bool:
    return (
        module == "copied_snapshot_local_cloud" or module.startswith("copied_snapshot_local_cloud.")
    ) and not (
        module == "copied_snapshot_local_cloud.docdb_elastic"
        or module.startswith("copied_snapshot_local_cloud.docdb_elastic.")
    )


def test_no_module_of_the_service_imports_the_rest_of_the_local_cloud() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) > 10
    borrowed = {
        f"{path.name}: {module}"
        for path in files
        for module in imported_modules(path)
        if outside_the_service(module)
    }
    assert borrowed == set()


def test_importing_the_service_loads_no_other_part_of_the_local_cloud() -> None:
    code = (
        "import json, sys\n"
        "import copied_snapshot_local_cloud.docdb_elastic\n"
        "import copied_snapshot_local_cloud.docdb_elastic.__main__\n"
        "import copied_snapshot_local_cloud.docdb_elastic.pytest_plugin\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('copied_snapshot_local_cloud'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    loaded = json.loads(done.stdout)
    assert "copied_snapshot_local_cloud.docdb_elastic.server" in loaded
    # The parent package's `__init__` is only a docstring; nothing else of the local cloud comes along.
    assert [
        module for module in loaded if outside_the_service(module) and module != "copied_snapshot_local_cloud"
    ] == []


def test_the_local_cloud_still_serves_through_the_services_serving_module() -> None:
    assert local_serving.serve is serving.serve
    assert local_serving.Running is serving.Running


# -- the pytest fixture ------------------------------------------------------------------------------------

CONFTEST = 'pytest_plugins = ["copied_snapshot_local_cloud.docdb_elastic.pytest_plugin"]\n'

SUITE = """
    import urllib.error
    import urllib.request
    from pathlib import Path

    import pytest

    from copied_snapshot_local_cloud.docdb_elastic import Durations, LocalDocDBElastic

    SEEN = Path(__file__).with_name("endpoint.txt")


    def test_a_running_service(local_docdb_elastic):
        assert isinstance(local_docdb_elastic, LocalDocDBElastic)
        client = local_docdb_elastic.client(region="eu-west-1", account="111122223333")
        assert client.list_cluster_snapshots()["snapshots"] == []
        assert local_docdb_elastic.backend.durations == Durations()
        SEEN.write_text(local_docdb_elastic.endpoint_url)


    def test_stopped_after_its_test_and_a_new_one_each_time(local_docdb_elastic):
        earlier = SEEN.read_text()
        assert local_docdb_elastic.endpoint_url != earlier
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{earlier}/_local/state", timeout=5)


    class TestOptions:
        @pytest.fixture
        def local_docdb_elastic_options(self):
            return {"durations": Durations(copy=30), "snapshot_quota": 3}

        def test_options_can_be_overridden(self, local_docdb_elastic):
            assert local_docdb_elastic.backend.durations.copy == 30
            assert local_docdb_elastic.backend.snapshot_quota == 3
"""


def test_the_fixture_serves_another_projects_suite(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_theirs.py").write_text(textwrap.dedent(SUITE))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_projects_own_tests_use_the_fixture(
    served: Served, local_docdb_elastic: LocalDocDBElastic
) -> None:
    assert served.service is local_docdb_elastic
    assert local_docdb_elastic.backend.clock is served.clock


# -- clients with a botocore Config ------------------------------------------------------------------------


def test_a_client_makes_one_attempt_by_default(served: Served) -> None:
    served.service.faults.fail("ListClusterSnapshots", error="InternalServerException", times=1)
    with pytest.raises(served.client.exceptions.InternalServerException):
        served.client.list_cluster_snapshots()
    assert len(served.service.calls.of("ListClusterSnapshots")) == 1


def test_a_client_takes_retries_from_a_config(served: Served) -> None:
    patient = served.service.client(
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}), account="111122223333"
    )
    served.service.faults.fail("ListClusterSnapshots", error="InternalServerException", times=2)
    assert patient.list_cluster_snapshots()["snapshots"] == []
    calls = served.service.calls.of("ListClusterSnapshots")
    assert [call.outcome for call in calls] == ["InternalServerException", "InternalServerException", "OK"]
    assert {call.account for call in calls} == {"111122223333"}


def test_a_config_is_merged_with_what_the_client_needs(served: Served) -> None:
    theirs = Config(user_agent_extra="theirs/1.0", read_timeout=7, region_name="us-west-2")
    client = served.service.client(region="eu-west-1", config=theirs)
    config: Any = client.meta.config  # botocore's Config declares its options dynamically
    # Their settings are kept, the default of one attempt too (they gave no retries), and the region and
    # endpoint stay the ones asked for.
    assert config.user_agent_extra == "theirs/1.0"
    assert config.read_timeout == 7
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == served.service.endpoint_url
    client.list_cluster_snapshots()
    assert served.service.calls.all()[-1].region == "eu-west-1"
