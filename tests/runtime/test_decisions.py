"""Deciding what an update or a status means."""

from __future__ import annotations

import dataclasses

import pytest

from copied_snapshot_runtime import decisions
from copied_snapshot_runtime.properties import CopyProperties

OLD = CopyProperties(
    source_snapshot_arn="arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/source-1",
    target_snapshot_name="orders-copy",
    tags={"team": "data", "env": "prod"},
)


@pytest.mark.parametrize(
    "change",
    [
        {"tags": {"team": "platform"}},
        {"timeout_seconds": 600},
        {"target_snapshot_name": "ORDERS-COPY"},  # names are not case sensitive
    ],
)
def test_changes_kept_in_place(change: dict[str, object]) -> None:
    assert decisions.plan_update(OLD, dataclasses.replace(OLD, **change)) is decisions.UpdatePlan.IN_PLACE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"source_snapshot_arn": "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/source-2"},
        {"target_snapshot_name": "orders-copy-2"},
        {"kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k"},
        {"copy_tags": True},
    ],
)
def test_changes_that_need_a_new_copy(change: dict[str, object]) -> None:
    assert decisions.plan_update(OLD, dataclasses.replace(OLD, **change)) is decisions.UpdatePlan.REPLACE  # type: ignore[arg-type]


def test_tag_changes_touch_only_what_changed() -> None:
    changes = decisions.tag_changes(
        {"team": "data", "env": "prod", "gone": "x"}, {"team": "data", "env": "dev", "new": "y"}
    )
    assert changes.to_set == {"env": "dev", "new": "y"}
    assert changes.to_remove == ("gone",)


def test_owned_snapshot_arn_is_of_this_account_and_region() -> None:
    arn = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/copy-1"
    assert str(decisions.owned_snapshot_arn(arn, "us-east-1", "123456789012")) == arn
    assert decisions.owned_snapshot_arn(arn, "us-west-2", "123456789012") is None
    assert decisions.owned_snapshot_arn(arn, "us-east-1", "210987654321") is None


@pytest.mark.parametrize(
    "physical_id",
    [
        "stack-id_OrdersCopy_ABCDEFGH",  # crhelper's invented id after a failed create
        "SnapshotCopyStack-OrdersCopy-1XYZ",  # CloudFormation-style placeholder
        "",
    ],
)
def test_placeholders_are_not_owned(physical_id: str) -> None:
    assert decisions.owned_snapshot_arn(physical_id, "us-east-1", "123456789012") is None


@pytest.mark.parametrize(
    ("status", "progress"),
    [
        ("ACTIVE", decisions.Progress.DONE),
        ("CREATING", decisions.Progress.WAITING),
        ("COPYING", decisions.Progress.WAITING),
        ("SOMETHING_NEW", decisions.Progress.WAITING),
        ("INACCESSIBLE_ENCRYPTION_CREDS", decisions.Progress.FAILED),
        ("DELETING", decisions.Progress.FAILED),
    ],
)
def test_progress_of_status(status: str, progress: decisions.Progress) -> None:
    assert decisions.progress_of(status) is progress


def test_attributes_from_a_snapshot() -> None:
    attributes = decisions.attributes(
        {
            "snapshotArn": "arn-1",
            "snapshotName": "orders-copy",
            "status": "ACTIVE",
            "kmsKeyId": "key-1",
            "clusterArn": "cluster-1",
            "snapshotCreationTime": "2026-11-27T10:00:00Z",
            "subnetIds": ["s"],
        }
    )
    assert attributes == {
        "SnapshotArn": "arn-1",
        "SnapshotName": "orders-copy",
        "Status": "ACTIVE",
        "KmsKeyId": "key-1",
        "ClusterArn": "cluster-1",
        "SnapshotCreationTime": "2026-11-27T10:00:00Z",
    }


def test_replacement_keeps_a_changed_name() -> None:
    new = dataclasses.replace(OLD, target_snapshot_name="orders-copy-v2", copy_tags=True)
    assert decisions.replacement_name(OLD, new, "req-1") == "orders-copy-v2"


def test_replacement_under_a_chosen_name_asks_for_a_new_name() -> None:
    new = dataclasses.replace(OLD, copy_tags=True)
    with pytest.raises(decisions.NameKeptOnReplacement, match="change target_snapshot_name"):
        decisions.replacement_name(OLD, new, "req-1")


def test_replacement_of_a_generated_name_gets_a_suffix() -> None:
    old = dataclasses.replace(OLD, target_snapshot_name="s" * 63, name_generated=True)
    new = dataclasses.replace(old, copy_tags=True)
    first = decisions.replacement_name(old, new, "req-1")
    second = decisions.replacement_name(old, new, "req-2")
    assert first != second
    assert len(first) <= 63 and first.startswith("s" * 50)
    assert first == decisions.replacement_name(old, new, "req-1")  # a retried request agrees with itself


def test_passing_errors_are_asked_again_a_bounded_number_of_times() -> None:
    waits = [decisions.retry_wait("ThrottlingException", attempt, None, 0.0, 0.0) for attempt in range(1, 6)]
    assert waits == [1.0, 2.0, 4.0, 8.0, None]
    assert decisions.retry_wait("InternalServerException", 1, 300.0, 0.0, 0.0) == decisions.MAX_WAIT_SECONDS
    assert decisions.retry_wait(decisions.CONNECTION_LOST, 2, None, 0.0, 0.0) == 2.0


def test_access_denied_is_asked_again_only_within_its_budget() -> None:
    assert decisions.retry_wait("AccessDeniedException", 1, None, 0.0, 0.0) is None
    assert decisions.retry_wait("AccessDeniedException", 7, None, 100.0, 120.0) == 20.0
    assert decisions.retry_wait("AccessDeniedException", 8, None, 101.0, 120.0) is None
    assert decisions.retry_wait("ValidationException", 1, None, 0.0, 120.0) is None


@pytest.mark.parametrize(
    ("now", "remaining", "budget"),
    [
        (1000.0, 300.0, 120.0),  # the first invocation: IAM's whole propagation delay
        (1090.0, 300.0, 30.0),  # a poll: what is left of it
        (1200.0, 300.0, 0.0),  # past it: AccessDenied fails as any refusal
        (1000.0, 100.0, 40.0),  # an invocation that cannot afford to wait longer
    ],
)
def test_the_access_denied_budget_runs_from_the_first_invocation(
    now: float, remaining: float, budget: float
) -> None:
    assert decisions.access_denied_budget(1000.0, now, remaining) == budget


STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/Orders/0f5c7a40-abcd-11ef-9d6b-0a1b2c3d4e5f"


def test_ownership_names_stack_and_logical_id_whatever_the_properties() -> None:
    tag = decisions.owner_tag_value(STACK, "Copy", OLD)
    assert decisions.owned_by(tag, STACK, "Copy")
    assert decisions.owned_by(decisions.owner_tag_value(STACK, "Copy", NEW_NAME), STACK, "Copy")
    assert not decisions.owned_by(tag, STACK, "OtherCopy")
    assert not decisions.owned_by(tag, STACK.replace("/Orders/", "/Other/"), "Copy")
    assert not decisions.owned_by("Orders/Copy", STACK, "CopyX")
    assert not decisions.owned_by(None, STACK, "Copy")
    assert not decisions.owned_by("", STACK, "Copy")


NEW_NAME = dataclasses.replace(OLD, target_snapshot_name="orders-copy-v2")


@pytest.mark.parametrize(
    ("physical_id", "searchable"),
    [
        ("Orders_Copy_K3J5H2QZ", True),  # crhelper's made-up id
        ("Orders-Copy-1A2B3C4D5E6F", True),  # an id CloudFormation made up
        ("arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/copy-1\n", False),
        ("arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/copy-1", False),
        ("", False),
    ],
)
def test_only_made_up_ids_are_looked_up_by_name(physical_id: str, searchable: bool) -> None:
    assert decisions.searchable_by_name(physical_id) is searchable


@pytest.mark.parametrize(
    ("request_type", "event_id", "copy_arn", "chosen"),
    [
        ("Create", None, "arn:copy", "arn:copy"),
        ("Create", None, None, None),
        ("Update", "arn:old", "arn:new", "arn:old"),
        ("Delete", "arn:old", None, "arn:old"),
        ("Delete", "", None, None),
    ],
)
def test_the_physical_id_of_a_failure(
    request_type: str, event_id: str | None, copy_arn: str | None, chosen: str | None
) -> None:
    assert decisions.failure_physical_id(request_type, event_id, copy_arn) == chosen


@pytest.mark.parametrize(
    ("physical_id", "may"),
    [
        ("SnapshotCopyStack-OrdersCopy-1A2B3C4D5E6F", True),  # CloudFormation's, after a cancel or timeout
        (decisions.made_up_physical_id("Stack-1", "OrdersCopy", "K3J5H2QZ", timed_out=True), True),
        (decisions.made_up_physical_id("Stack-1", "OrdersCopy", "K3J5H2QZ"), False),  # answered, ended
        ("arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/abc", False),
        ("", False),
    ],
)
def test_a_copy_may_still_appear_only_for_a_create_that_did_not_end_with_an_answer(
    physical_id: str, may: bool
) -> None:
    assert decisions.copy_may_still_appear(physical_id) is may


def test_the_search_window_covers_the_create_and_lambdas_two_retries() -> None:
    assert decisions.search_window_seconds(300) == 300 + 60 + 300 + 120 + 300


def test_a_failed_replacement_is_known_by_its_new_name_or_a_generated_names_suffix() -> None:
    kept = CopyProperties(OLD.source_snapshot_arn, "orders-copy")
    renamed = CopyProperties(OLD.source_snapshot_arn, "orders-copy-v2")
    assert decisions.may_be_replacement_name(renamed, kept, "Orders-Copy-V2")
    assert not decisions.may_be_replacement_name(renamed, kept, "orders-copy")
    generated = CopyProperties(
        OLD.source_snapshot_arn, "stack-copy-abc", name_generated=True, kms_key_id="key-2"
    )
    made = decisions.name_with_suffix("stack-copy-abc", "update-request-7")
    assert decisions.may_be_replacement_name(generated, dataclasses.replace(generated, kms_key_id=""), made)
    assert not decisions.may_be_replacement_name(generated, generated, "stack-copy-abc")
    chosen = CopyProperties(OLD.source_snapshot_arn, "orders-copy", kms_key_id="key-2")
    assert not decisions.may_be_replacement_name(chosen, kept, "orders-copy")
