"""The handler's AWS layer (`SnapshotService`) against the local docdb-elastic service instead of stubs."""

from __future__ import annotations

from copied_snapshot_runtime import rules
from copied_snapshot_runtime.snapshots import Deletion, SnapshotService
from tests.support.local_service import Served


def service_with_sleeps(served: Served) -> tuple[SnapshotService, list[float]]:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        served.clock.advance(seconds)

    return SnapshotService(served.client, sleep=sleep), sleeps


def test_throttled_calls_wait_as_long_as_retry_after_asks(served: Served) -> None:
    service, sleeps = service_with_sleeps(served)
    arn = served.seed_snapshot()
    served.service.faults.throttle("GetClusterSnapshot", rate=1 / 3, burst=1, now=served.clock.now())
    service.get(arn)
    snapshot = service.get(arn)
    assert snapshot is not None
    assert snapshot["snapshotArn"] == arn
    assert sleeps == [3.0]


def test_internal_errors_are_retried_until_the_answer_comes(served: Served) -> None:
    service, sleeps = service_with_sleeps(served)
    served.service.faults.fail("ListTagsForResource", error="InternalServerException", times=2)
    assert service.tags_of(served.seed_snapshot(tags={"a": "b"})) == {"a": "b"}
    assert sleeps == [1.0, 2.0]


def test_find_by_name_pages_through_the_listing_ignoring_case(served: Served) -> None:
    service, _ = service_with_sleeps(served)
    for index in range(130):
        served.seed_snapshot(f"snap-{index:03d}")
    found = service.find_by_name("SNAP-129")
    assert found is not None
    assert found["snapshotName"] == "snap-129"
    assert len(served.service.calls.of("ListClusterSnapshots")) == 2


def test_delete_of_a_copy_still_in_progress_is_busy_then_started_then_gone(served: Served) -> None:
    service, _ = service_with_sleeps(served)
    served.service.backend.configure(durations={"copy": 60, "delete": 5})
    copy = service.copy(served.seed_snapshot(), "busy-copy", None, False, {})
    assert service.delete(copy["snapshotArn"]) is Deletion.BUSY
    served.clock.advance(60)
    assert service.delete(copy["snapshotArn"]) is Deletion.STARTED
    assert service.delete(copy["snapshotArn"]) is Deletion.BUSY
    served.clock.advance(5)
    assert service.get(copy["snapshotArn"]) is None
    assert service.delete(copy["snapshotArn"]) is Deletion.GONE


def test_owner_tag_in_the_request_wins_over_one_copied_from_the_source(served: Served) -> None:
    service, _ = service_with_sleeps(served)
    source = served.seed_snapshot(tags={rules.OWNER_TAG: "someone-else", "team": "data"})
    copy = service.copy(source, "adopted-tags", None, True, {rules.OWNER_TAG: "this-stack"})
    assert service.tags_of(copy["snapshotArn"]) == {rules.OWNER_TAG: "this-stack", "team": "data"}
