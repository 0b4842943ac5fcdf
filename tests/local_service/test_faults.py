"""Fault injection of the local docdb-elastic service: throttling, errors, latency and copy outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from copied_snapshot_local_cloud.docdb_elastic import Faults, LocalDocDBElastic, ManualClock
from tests.support.constants import REGION
from tests.support.local_service import Served


def outcomes(served: Served, calls: int) -> list[str]:
    found = []
    arn = served.seed_snapshot("target")
    for _ in range(calls):
        try:
            served.client.get_cluster_snapshot(snapshotArn=arn)
            found.append("OK")
        except ClientError as error:
            found.append(error.response["Error"]["Code"])
    return found


def test_throttling_is_a_token_bucket_per_operation_with_retry_after(served: Served) -> None:
    arn = served.seed_snapshot()
    served.service.faults.throttle("GetClusterSnapshot", rate=0.25, burst=2, now=served.clock.now())
    served.client.get_cluster_snapshot(snapshotArn=arn)
    served.client.get_cluster_snapshot(snapshotArn=arn)
    with pytest.raises(served.client.exceptions.ThrottlingException) as raised:
        served.client.get_cluster_snapshot(snapshotArn=arn)
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "4"
    assert dict(raised.value.response)["retryAfterSeconds"] == 4
    # Other operations have their own budget.
    served.client.list_tags_for_resource(resourceArn=arn)
    served.clock.advance(4)
    served.client.get_cluster_snapshot(snapshotArn=arn)
    with pytest.raises(served.client.exceptions.ThrottlingException):
        served.client.get_cluster_snapshot(snapshotArn=arn)


def test_throttling_every_operation_together(served: Served) -> None:
    arn = served.seed_snapshot()
    served.service.faults.throttle("*", rate=1, burst=1, now=served.clock.now())
    served.client.get_cluster_snapshot(snapshotArn=arn)
    with pytest.raises(served.client.exceptions.ThrottlingException):
        served.client.list_tags_for_resource(resourceArn=arn)


@pytest.mark.parametrize("code", ["InternalServerException", "AccessDeniedException"])
def test_injected_error_for_the_next_n_calls(served: Served, code: str) -> None:
    served.service.faults.fail("GetClusterSnapshot", error=code, times=2)
    assert outcomes(served, 4) == [code, code, "OK", "OK"]
    assert [call.outcome for call in served.service.calls.of("GetClusterSnapshot")] == [
        code,
        code,
        "OK",
        "OK",
    ]


def test_injected_errors_with_a_probability_repeat_with_the_seed() -> None:
    def run(seed: int) -> list[str]:
        with LocalDocDBElastic(seed=seed, clock=ManualClock()) as service:
            service.faults.fail("GetClusterSnapshot", error="InternalServerException", probability=0.3)
            return outcomes(Served(service, ManualClock()), 60)

    first, again, other = run(42), run(42), run(7)
    assert first == again
    assert first != other
    assert 5 < first.count("InternalServerException") < 35


def test_latency_delays_the_answer(served: Served) -> None:
    arn = served.seed_snapshot()
    served.service.faults.slow("GetClusterSnapshot", seconds=0.3)
    started = time.monotonic()
    served.client.get_cluster_snapshot(snapshotArn=arn)
    slow = time.monotonic() - started
    started = time.monotonic()
    served.client.list_tags_for_resource(resourceArn=arn)
    assert slow >= 0.3 > time.monotonic() - started


def test_copy_ending_in_a_failure_status(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 10})
    served.service.faults.end_copies("INACCESSIBLE_ENCRYPTION_CREDS", name="doomed-*")
    source = served.seed_snapshot()
    doomed = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="Doomed-1")[
        "snapshot"
    ]
    fine = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="fine")["snapshot"]
    assert doomed["status"] == "COPYING"
    served.clock.advance(10)
    assert (
        served.client.get_cluster_snapshot(snapshotArn=doomed["snapshotArn"])["snapshot"]["status"]
        == "INACCESSIBLE_ENCRYPTION_CREDS"
    )
    assert (
        served.client.get_cluster_snapshot(snapshotArn=fine["snapshotArn"])["snapshot"]["status"] == "ACTIVE"
    )
    # A failed copy can still be deleted, so nothing has to be left behind.
    served.client.delete_cluster_snapshot(snapshotArn=doomed["snapshotArn"])


def test_copy_that_never_finishes_only_for_the_next_n(served: Served) -> None:
    served.service.faults.stall_copies(times=1)
    source = served.seed_snapshot()
    stuck = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="stuck")["snapshot"]
    later = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="later")["snapshot"]
    served.clock.advance(10**7)
    assert (
        served.client.get_cluster_snapshot(snapshotArn=stuck["snapshotArn"])["snapshot"]["status"]
        == "COPYING"
    )
    assert later["status"] == "ACTIVE"


def test_a_copy_stalled_for_a_while_becomes_active_that_much_later(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 100})
    served.service.faults.apply({"kind": "copy-stall", "name": "late", "times": 1, "seconds": 500})
    source = served.seed_snapshot()

    def copy(name: str) -> str:
        made = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName=name)
        return made["snapshot"]["snapshotArn"]

    def status(arn: str) -> str:
        return served.client.get_cluster_snapshot(snapshotArn=arn)["snapshot"]["status"]

    late, on_time = copy("late"), copy("on-time")
    served.clock.advance(101)
    assert (status(late), status(on_time)) == ("COPYING", "ACTIVE")
    served.clock.advance(500)
    assert status(late) == "ACTIVE"
    with pytest.raises(ValueError, match="more than 0 seconds"):
        served.service.faults.stall_copies(seconds=0)


def restore(served: Served, snapshot: str, name: str) -> dict[str, Any]:
    return dict(
        served.client.restore_cluster_from_snapshot(snapshotArn=snapshot, clusterName=name)["cluster"]
    )


def cluster_status(served: Served, cluster: dict[str, Any]) -> str:
    return str(served.client.get_cluster(clusterArn=cluster["clusterArn"])["cluster"]["status"])


@pytest.mark.parametrize("status", ["INACCESSIBLE_ENCRYPTION_CREDS", "INVALID_SUBNET_ID"])
def test_restore_ending_in_a_failure_status(served: Served, status: str) -> None:
    served.service.backend.configure(durations={"restore": 10})
    served.service.faults.end_restores(status, name="doomed-*", times=1)
    source = served.seed_snapshot()
    doomed = restore(served, source, "Doomed-1")
    again = restore(served, source, "doomed-2")
    assert doomed["status"] == "CREATING"
    served.clock.advance(10)
    assert (cluster_status(served, doomed), cluster_status(served, again)) == (status, "ACTIVE")
    # A failed cluster cannot be updated, but can be deleted, so nothing has to be left behind.
    with pytest.raises(served.client.exceptions.ConflictException):
        served.client.update_cluster(clusterArn=doomed["clusterArn"], shardCapacity=4)
    served.client.delete_cluster(clusterArn=doomed["clusterArn"])


def test_restore_that_never_finishes_and_copies_keep_their_own_rules(served: Served) -> None:
    served.service.faults.stall_restores(name="stuck")
    source = served.seed_snapshot()
    stuck = restore(served, source, "stuck")
    fine = restore(served, source, "fine")
    copy = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="stuck")["snapshot"]
    served.clock.advance(10**7)
    assert (cluster_status(served, stuck), fine["status"], copy["status"]) == ("CREATING", "ACTIVE", "ACTIVE")
    assert served.client.delete_cluster(clusterArn=stuck["clusterArn"])["cluster"]["status"] == "DELETING"


@pytest.mark.parametrize(
    "operation",
    ["RestoreClusterFromSnapshot", "GetCluster", "ListClusters", "UpdateCluster", "DeleteCluster"],
)
def test_cluster_operations_meet_throttling_and_injected_errors(served: Served, operation: str) -> None:
    source = served.seed_snapshot()
    cluster = restore(served, source, "target")
    calls: dict[str, Callable[[], object]] = {
        "RestoreClusterFromSnapshot": lambda: restore(served, source, "another"),
        "GetCluster": lambda: served.client.get_cluster(clusterArn=cluster["clusterArn"]),
        "ListClusters": served.client.list_clusters,
        "UpdateCluster": lambda: served.client.update_cluster(clusterArn=cluster["clusterArn"], shardCount=2),
        "DeleteCluster": lambda: served.client.delete_cluster(clusterArn=cluster["clusterArn"]),
    }
    served.service.faults.fail(operation, error="InternalServerException", times=1)
    with pytest.raises(served.client.exceptions.InternalServerException):
        calls[operation]()
    served.service.faults.throttle(operation, rate=0.5, burst=1, now=served.clock.now())
    calls[operation]()
    with pytest.raises(served.client.exceptions.ThrottlingException):
        calls[operation]()
    assert [call.outcome for call in served.service.calls.of(operation)][-3:] == [
        "InternalServerException",
        "OK",
        "ThrottlingException",
    ]


def test_faults_as_data_and_their_errors() -> None:
    faults = Faults(seed=3)
    faults.apply({"kind": "throttle", "operation": "CopyClusterSnapshot", "rate": 2, "burst": 5})
    faults.apply({"kind": "fail", "error": "AccessDeniedException", "times": 1})
    faults.apply({"kind": "latency", "operation": "GetClusterSnapshot", "seconds": 0.5})
    faults.apply({"kind": "copy-status", "status": "INACCESSIBLE_ENCRYPTION_CREDS", "name": "x-*"})
    faults.apply({"kind": "copy-stall", "name": "y-*"})
    faults.apply({"kind": "restore-status", "status": "INVALID_SUBNET_ID", "name": "r-*", "times": 2})
    faults.apply({"kind": "restore-stall", "name": "s-*"})
    described = faults.describe()
    assert described["restores"] == [
        {"name": "r-*", "final_status": "INVALID_SUBNET_ID", "remaining": 2, "late": 0.0},
        {"name": "s-*", "final_status": None, "remaining": None, "late": 0.0},
    ]
    assert described["throttle"] == {"CopyClusterSnapshot": {"rate": 2, "burst": 5.0}}
    assert described["latency"] == {"GetClusterSnapshot": 0.5}
    assert [rule["final_status"] for rule in described["copies"]] == ["INACCESSIBLE_ENCRYPTION_CREDS", None]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "fail", "error": "TeapotException"}, "cannot inject"),
        ({"kind": "fail", "operation": "MakeCoffee"}, "unknown operation"),
        ({"kind": "fail", "probability": 1.5}, "probability"),
        ({"kind": "throttle", "rate": 0}, "rate > 0"),
        ({"kind": "copy-status", "status": "MELTED"}, "unknown status"),
        ({"kind": "restore-status", "status": "MELTED"}, "unknown status"),
        ({"kind": "restore-stall", "times": 0}, "at least 1"),
        ({"kind": "latency"}, "incomplete"),
    ]
    for spec, message in cases:
        with pytest.raises(ValueError, match=message):
            faults.apply(spec)


def test_cleared_faults_stop(served: Served) -> None:
    served.service.faults.fail(error="InternalServerException")
    served.service.faults.clear()
    assert outcomes(served, 2) == ["OK", "OK"]
    assert served.service.calls.all()[-1].region == REGION
