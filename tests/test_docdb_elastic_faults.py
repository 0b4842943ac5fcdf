"""Fault injection of the local docdb-elastic service: throttling, errors, latency and copy outcomes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_cloud.docdb_elastic import Faults, LocalDocDBElastic, ManualClock
from tests.local_service import REGION, Served


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


def test_faults_as_data_and_their_errors() -> None:
    faults = Faults(seed=3)
    faults.apply({"kind": "throttle", "operation": "CopyClusterSnapshot", "rate": 2, "burst": 5})
    faults.apply({"kind": "fail", "error": "AccessDeniedException", "times": 1})
    faults.apply({"kind": "latency", "operation": "GetClusterSnapshot", "seconds": 0.5})
    faults.apply({"kind": "copy-status", "status": "INACCESSIBLE_ENCRYPTION_CREDS", "name": "x-*"})
    faults.apply({"kind": "copy-stall", "name": "y-*"})
    described = faults.describe()
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
