"""The local docdb-elastic service under concurrent clients: its rules hold for every interleaving."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from tests.support.constants import REGION
from tests.support.local_service import Served

WORKERS = 16


def copy_outcome(served: Served, source: str, name: str) -> str:
    # boto3 clients are thread-safe, but each worker gets its own as a real fleet of handlers would.
    client = served.service.client(region=REGION)
    try:
        return str(
            client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName=name)["snapshot"]["status"]
        )
    except ClientError as error:
        return str(error.response["Error"]["Code"])


def test_concurrent_copies_all_complete_with_distinct_arns(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 30})
    source = served.seed_snapshot()
    names = [f"copy-{index:02d}" for index in range(48)]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda name: copy_outcome(served, source, name), names))
    assert results == ["COPYING"] * len(names)
    served.clock.advance(30)
    listed = served.client.list_cluster_snapshots()["snapshots"]
    copies = [item for item in listed if item["snapshotName"] in names]
    assert sorted(item["snapshotName"] for item in copies) == names
    assert len({item["snapshotArn"] for item in copies}) == len(names)
    assert {item["status"] for item in copies} == {"ACTIVE"}


def test_racing_for_one_name_exactly_one_wins_ignoring_case(served: Served) -> None:
    source = served.seed_snapshot()
    names = ["dr-copy", "DR-COPY", "Dr-Copy", "dr-Copy"] * 6
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda name: copy_outcome(served, source, name), names))
    assert results.count("ACTIVE") == 1
    assert results.count("ConflictException") == len(names) - 1


def test_racing_past_the_quota_never_exceeds_it(served: Served) -> None:
    served.service.backend.configure(snapshot_quota=6)
    source = served.seed_snapshot()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda index: copy_outcome(served, source, f"copy-{index}"), range(30)))
    # The seeded source counts towards the quota too.
    assert results.count("ACTIVE") == 5
    assert results.count("ServiceQuotaExceededException") == 25
    assert len(served.service.backend.state()["snapshots"]) == 6
    assert len(served.service.calls.of("CopyClusterSnapshot")) == 30


def restore_outcome(served: Served, source: str, name: str) -> str:
    client = served.service.client(region=REGION)
    try:
        cluster = client.restore_cluster_from_snapshot(snapshotArn=source, clusterName=name)["cluster"]
        return str(cluster["status"])
    except ClientError as error:
        return str(error.response["Error"]["Code"])


def test_racing_restores_for_one_cluster_name_exactly_one_wins_ignoring_case(served: Served) -> None:
    served.service.backend.configure(durations={"restore": 30})
    source = served.seed_snapshot()
    names = ["staging", "STAGING", "Staging", "staGing"] * 6
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda name: restore_outcome(served, source, name), names))
    assert results.count("CREATING") == 1
    assert results.count("ConflictException") == len(names) - 1
    assert [item["clusterName"] for item in served.client.list_clusters()["clusters"]] == ["staging"]
