"""The custom resource's life cycle, wired into crhelper: copy, wait for ACTIVE, retag, delete."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from copied_snapshot_runtime import decisions, environment, properties
from copied_snapshot_runtime.resource import CopyResource
from copied_snapshot_runtime.snapshots import Deletion, SnapshotService, docdb_elastic_client

# Kept in crhelper's Data between polls; replaced by the attributes once the copy is ACTIVE.
DEADLINE = "Deadline"
TIMEOUT = "TimeoutSeconds"

logger = logging.getLogger(__name__)
# The clock deadlines are measured with; tests move it forward.
clock = time.time
helper = CopyResource(
    rule_prefix=os.environ.get(environment.POLL_RULE_PREFIX_ENV, environment.DEFAULT_POLL_RULE_PREFIX)
)
_service: SnapshotService | None = None


class CopyFailed(RuntimeError):
    """The copy cannot complete; the message says which snapshot and why, for the stack's events."""


def service() -> SnapshotService:
    global _service  # noqa: PLW0603 - one client per warm Lambda container
    if _service is None:
        _service = SnapshotService(docdb_elastic_client())
    return _service


def _account_and_region(context: Any) -> tuple[str, str]:
    arn_parts = str(context.invoked_function_arn).split(":")
    return arn_parts[4], arn_parts[3]


def _start_deadline(timeout_seconds: int) -> None:
    helper.Data[DEADLINE] = clock() + timeout_seconds
    helper.Data[TIMEOUT] = timeout_seconds


def _past_deadline() -> bool:
    return clock() > float(helper.Data[DEADLINE])


def _start_copy(props: properties.CopyProperties) -> str:
    snapshot = service().copy(props)
    arn = str(snapshot["snapshotArn"])
    _start_deadline(props.timeout_seconds)
    logger.info(
        {
            "message": "copy started",
            "SnapshotArn": arn,
            "SourceSnapshotArn": props.source_snapshot_arn,
            "Status": snapshot.get("status"),
        }
    )
    return arn


def _poll_copy(arn: str) -> str | None:
    snapshot = service().get(arn)
    if snapshot is None:
        raise CopyFailed(f"copy {arn} no longer exists; it was deleted while copying")
    status = str(snapshot.get("status"))
    progress = decisions.progress_of(status)
    logger.info({"message": "copy status", "SnapshotArn": arn, "Status": status})
    if progress is decisions.Progress.DONE:
        helper.Data.clear()
        helper.Data.update(decisions.attributes(snapshot))
        return arn
    if progress is decisions.Progress.FAILED:
        raise CopyFailed(f"copy {arn} ended in status {status} and will not become ACTIVE")
    if _past_deadline():
        raise CopyFailed(
            f"copy {arn} was not ACTIVE within {helper.Data[TIMEOUT]} seconds (status {status}); "
            "raise the CopiedSnapshot timeout if copies of this size take longer"
        )
    return None


def _discard_failed_copy(arn: str) -> None:
    """A replacement copy that failed is not the resource's: delete it rather than leak it."""
    try:
        service().delete(arn)
        logger.warning({"message": "deleting failed replacement copy", "SnapshotArn": arn})
    except Exception:
        logger.exception({"message": "could not delete failed replacement copy", "SnapshotArn": arn})


def create(event: Mapping[str, Any], context: Any) -> str:
    return _start_copy(properties.parse_properties(event["ResourceProperties"]))


def poll_create(event: Mapping[str, Any], context: Any) -> str | None:
    return _poll_copy(str(helper.Data["PhysicalResourceId"]))


def update(event: Mapping[str, Any], context: Any) -> str:
    old = properties.parse_properties(event["OldResourceProperties"])
    new = properties.parse_properties(event["ResourceProperties"])
    arn = str(event["PhysicalResourceId"])
    if decisions.plan_update(old, new) is decisions.UpdatePlan.REPLACE:
        name = decisions.replacement_name(old, new, str(event["RequestId"]))
        return _start_copy(dataclasses.replace(new, target_snapshot_name=name))
    changes = decisions.tag_changes(old.tags, new.tags)
    service().untag(arn, changes.to_remove)
    service().tag(arn, changes.to_set)
    snapshot = service().get(arn)
    if snapshot is None:
        raise CopyFailed(f"copy {arn} no longer exists; remove it from the stack or change its name")
    helper.Data.update(decisions.attributes(snapshot))
    logger.info({"message": "tags updated", "SnapshotArn": arn, "Removed": list(changes.to_remove)})
    helper.answer_now()
    return arn


def poll_update(event: Mapping[str, Any], context: Any) -> str | None:
    arn = str(helper.Data["PhysicalResourceId"])
    try:
        return _poll_copy(arn)
    except CopyFailed:
        _discard_failed_copy(arn)
        raise


def delete(event: Mapping[str, Any], context: Any) -> str:
    physical_id = str(event.get("PhysicalResourceId", ""))
    account, region = _account_and_region(context)
    arn = decisions.owned_snapshot_arn(physical_id, region=region, account=account)
    if arn is None:
        logger.info({"message": "not a snapshot of this account and region; nothing to delete"})
        helper.answer_now()
        return physical_id
    deletion = service().delete(str(arn))
    if deletion is Deletion.GONE:
        logger.info({"message": "already gone", "SnapshotArn": physical_id})
        helper.answer_now()
        return physical_id
    try:
        timeout = properties.parse_timeout(
            event.get("ResourceProperties", {}).get(
                properties.TIMEOUT_SECONDS, properties.DEFAULT_TIMEOUT_SECONDS
            )
        )
    except properties.InvalidProperties:
        timeout = properties.DEFAULT_TIMEOUT_SECONDS
    _start_deadline(timeout)
    logger.info({"message": f"delete {deletion.value}", "SnapshotArn": physical_id})
    return physical_id


def poll_delete(event: Mapping[str, Any], context: Any) -> str | None:
    # crhelper repeats the first invocation's Data on every poll, so the snapshot itself is the state.
    arn = str(helper.Data["PhysicalResourceId"])
    snapshot = service().get(arn)
    busy = False
    if snapshot is not None and snapshot.get("status") != decisions.DELETING:
        # Deletion was refused as busy (a copy still in progress): ask again until it takes.
        deletion = service().delete(arn)
        busy = deletion is Deletion.BUSY
        if deletion is Deletion.GONE:
            snapshot = None
    if snapshot is None:
        logger.info({"message": "deleted", "SnapshotArn": arn})
        helper.Data.clear()
        return arn
    if _past_deadline():
        refused = " and refused deletion as busy" if busy else ""
        raise CopyFailed(
            f"snapshot {arn} was still {snapshot.get('status')}{refused} after {helper.Data[TIMEOUT]} seconds"
        )
    return None


helper.create(create)
helper.poll_create(poll_create)
helper.update(update)
helper.poll_update(poll_update)
helper.delete(delete)
helper.poll_delete(poll_delete)


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
