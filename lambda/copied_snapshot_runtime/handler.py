"""The custom resource's life cycle, wired into crhelper: copy, wait for ACTIVE, retag, delete."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, environment, properties, rules
from copied_snapshot_runtime.resource import CopyResource
from copied_snapshot_runtime.snapshots import Deletion, SnapshotService, docdb_elastic_client, error_code

# Kept in crhelper's Data between polls; replaced by the attributes once the copy is ACTIVE.
DEADLINE = "Deadline"
TIMEOUT = "TimeoutSeconds"

logger = logging.getLogger(__name__)
# The clock deadlines are measured with; tests move it forward.
clock = time.time
helper = CopyResource(
    rule_prefix=os.environ.get(environment.POLL_RULE_PREFIX_ENV, environment.DEFAULT_POLL_RULE_PREFIX)
)
_services: dict[str | None, SnapshotService] = {}


class CopyFailed(RuntimeError):
    """The copy cannot complete; the message says which snapshot and why, for the stack's events."""


def service(region: str | None = None) -> SnapshotService:
    """The API in the Lambda's own region (where copies are made), or in `region` (a source's)."""
    if region not in _services:
        _services[region] = SnapshotService(docdb_elastic_client(region))
    return _services[region]


def _failure(error: ClientError, doing: str) -> CopyFailed:
    message = error.response.get("Error", {}).get("Message", "")
    return CopyFailed(f"{doing} failed: {error_code(error)}: {message}")


def _account_and_region(context: Any) -> tuple[str, str]:
    arn_parts = str(context.invoked_function_arn).split(":")
    return arn_parts[4], arn_parts[3]


def _start_deadline(timeout_seconds: int) -> None:
    helper.Data[DEADLINE] = clock() + timeout_seconds
    helper.Data[TIMEOUT] = timeout_seconds


def _past_deadline() -> bool:
    return clock() > float(helper.Data[DEADLINE])


def _still_transient(error: ClientError) -> bool:
    """A poll that met a passing error tries again next minute, while the deadline allows."""
    if decisions.is_retryable(error_code(error)) and not _past_deadline():
        logger.warning({"message": "passing error, asking again next poll", "Error": error_code(error)})
        return True
    return False


def _check_encryption(props: properties.CopyProperties, region: str) -> None:
    """Refuses, before any copy exists, what the service would refuse or do wrong about encryption."""
    source = rules.check_snapshot_arn(props.source_snapshot_arn)
    try:
        snapshot = service(source.region).get(props.source_snapshot_arn)
    except ClientError as error:
        if error_code(error) == "AccessDeniedException":
            # A source shared from another account may not be readable; CopyClusterSnapshot will tell.
            logger.warning(
                {"message": "cannot read the source to check its encryption", "Error": "AccessDenied"}
            )
            return
        raise _failure(error, f"reading source snapshot {props.source_snapshot_arn}") from error
    if snapshot is None:
        raise CopyFailed(f"source snapshot {props.source_snapshot_arn} does not exist")
    problem = decisions.encryption_problem(props, snapshot.get("kmsKeyId"), region)
    if problem:
        raise CopyFailed(problem)


def _adopt(name: str, owner: str, conflict: ClientError) -> Mapping[str, Any]:
    """The snapshot holding `name`, if an earlier delivery of this same request made it."""
    existing = service().find_by_name(name)
    if existing is None:
        raise _failure(conflict, f"copying to {name!r}")
    arn = str(existing["snapshotArn"])
    found = service().tags_of(arn).get(rules.OWNER_TAG)
    if found != owner:
        raise CopyFailed(
            f"name in use: snapshot {arn} already holds the name {name!r} and was made by "
            f"{decisions.owner_named_by(found)}; choose another target_snapshot_name"
        )
    logger.info({"message": "adopting the copy an earlier delivery of this request made", "SnapshotArn": arn})
    return existing


def _start_copy(event: Mapping[str, Any], context: Any, props: properties.CopyProperties, name: str) -> str:
    _, region = _account_and_region(context)
    _check_encryption(props, region)
    owner = decisions.owner_tag_value(str(event["StackId"]), str(event["LogicalResourceId"]), props)
    tags = {**props.tags, rules.OWNER_TAG: owner}
    try:
        snapshot = service().copy(props.source_snapshot_arn, name, props.kms_key_id, props.copy_tags, tags)
    except ClientError as error:
        if error_code(error) != "ConflictException":
            raise _failure(error, f"copying {props.source_snapshot_arn} to {name!r}") from error
        snapshot = _adopt(name, owner, error)
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
    try:
        snapshot = service().get(arn)
    except ClientError as error:
        if _still_transient(error):
            return None
        raise _failure(error, f"reading copy {arn}") from error
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
        deletion = service().delete(arn)
        logger.warning({"message": f"failed replacement copy: delete {deletion.value}", "SnapshotArn": arn})
    except Exception:
        logger.exception({"message": "could not delete failed replacement copy", "SnapshotArn": arn})


def _old_properties(event: Mapping[str, Any]) -> properties.CopyProperties:
    try:
        return properties.parse_properties(event["OldResourceProperties"])
    except ValueError:
        # A rollback Update brings back as "old" the values the failed update was refused for.
        return properties.read_unchecked(event["OldResourceProperties"])


def _made_from(arn: str, owner: str, context: Any) -> bool:
    """Whether the current copy was made from exactly these properties (as after a rolled-back update)."""
    account, region = _account_and_region(context)
    if decisions.owned_snapshot_arn(arn, region=region, account=account) is None:
        return False
    try:
        return service().tags_of(arn).get(rules.OWNER_TAG) == owner
    except ClientError:
        return False


def create(event: Mapping[str, Any], context: Any) -> str:
    props = properties.parse_properties(event["ResourceProperties"])
    return _start_copy(event, context, props, props.target_snapshot_name)


def poll_create(event: Mapping[str, Any], context: Any) -> str | None:
    return _poll_copy(str(helper.Data["PhysicalResourceId"]))


def update(event: Mapping[str, Any], context: Any) -> str:
    new = properties.parse_properties(event["ResourceProperties"])
    old = _old_properties(event)
    arn = str(event["PhysicalResourceId"])
    owner = decisions.owner_tag_value(str(event["StackId"]), str(event["LogicalResourceId"]), new)
    replace = decisions.plan_update(old, new) is decisions.UpdatePlan.REPLACE
    if replace and not _made_from(arn, owner, context):
        name = decisions.replacement_name(old, new, str(event["RequestId"]))
        return _start_copy(event, context, new, name)
    changes = decisions.tag_changes(old.tags, new.tags)
    try:
        service().untag(arn, changes.to_remove)
        service().tag(arn, changes.to_set)
        snapshot = service().get(arn)
    except ClientError as error:
        raise _failure(error, f"updating the tags of copy {arn}") from error
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
    try:
        deletion = service().delete(str(arn))
    except ClientError as error:
        raise _failure(error, f"deleting copy {physical_id}") from error
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
    busy = False
    try:
        snapshot = service().get(arn)
        if snapshot is not None and snapshot.get("status") != decisions.DELETING:
            # Deletion was refused as busy (a copy still in progress): ask again until it takes.
            deletion = service().delete(arn)
            busy = deletion is Deletion.BUSY
            if deletion is Deletion.GONE:
                snapshot = None
    except ClientError as error:
        if _still_transient(error):
            return None
        raise _failure(error, f"deleting copy {arn}") from error
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
