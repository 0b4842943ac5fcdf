"""Creating and updating a copy: check the source, copy (or adopt), wait for ACTIVE, retag or replace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, invocation, properties, rules
from copied_snapshot_runtime.snapshots import SnapshotService, error_code

logger = logging.getLogger(__name__)


def _refuse_other_place(props: properties.CopyProperties, context: Any) -> None:
    """Refuses, before any call, a source outside the function's region and account."""
    account, region = invocation.account_and_region(context)
    problem = decisions.place_problem(props.source_snapshot_arn, region=region, account=account)
    if problem:
        raise invocation.CopyFailed(problem)


def _check_source(props: properties.CopyProperties, api: SnapshotService) -> None:
    """Reads the source first: a missing source is then named as such, before anything is made."""
    try:
        snapshot = api.get(props.source_snapshot_arn)
    except ClientError as error:
        raise invocation.failure(error, f"reading source snapshot {props.source_snapshot_arn}") from error
    if snapshot is None:
        raise invocation.CopyFailed(f"source snapshot {props.source_snapshot_arn} does not exist")


def _adopt(name: str, owner: str, conflict: ClientError, api: SnapshotService) -> Mapping[str, Any]:
    """The snapshot holding `name`, if an earlier delivery of this same request made it."""
    existing = api.find_by_name(name)
    if existing is None:
        raise invocation.failure(conflict, f"copying to {name!r}")
    arn = str(existing["snapshotArn"])
    found = api.tags_of(arn).get(rules.OWNER_TAG)
    if found != owner:
        raise invocation.CopyFailed(
            f"name in use: snapshot {arn} already holds the name {name!r} and was made by "
            f"{decisions.owner_named_by(found)}; choose another target_snapshot_name"
        )
    logger.info({"message": "adopting the copy an earlier delivery of this request made", "SnapshotArn": arn})
    return existing


def _start_copy(
    event: Mapping[str, Any], props: properties.CopyProperties, name: str, api: SnapshotService
) -> str:
    _check_source(props, api)
    owner = decisions.owner_tag_value(str(event["StackId"]), str(event["LogicalResourceId"]), props)
    tags = {**props.tags, rules.OWNER_TAG: owner}
    try:
        snapshot = api.copy(props.source_snapshot_arn, name, props.kms_key_id, props.copy_tags, tags)
    except ClientError as error:
        if error_code(error) != "ConflictException":
            raise invocation.failure(error, f"copying {props.source_snapshot_arn} to {name!r}") from error
        snapshot = _adopt(name, owner, error, api)
    arn = str(snapshot["snapshotArn"])
    invocation.start_deadline(props.timeout_seconds)
    logger.info(
        {
            "message": "copy started",
            "SnapshotArn": arn,
            "SourceSnapshotArn": props.source_snapshot_arn,
            "Status": snapshot.get("status"),
        }
    )
    return arn


def _poll_copy(arn: str, api: SnapshotService) -> str | None:
    try:
        snapshot = api.get(arn)
    except ClientError as error:
        if invocation.still_transient(error):
            return None
        raise invocation.failure(error, f"reading copy {arn}") from error
    if snapshot is None:
        raise invocation.CopyFailed(f"copy {arn} no longer exists; it was deleted while copying")
    status = str(snapshot.get("status"))
    progress = decisions.progress_of(status)
    logger.info({"message": "copy status", "SnapshotArn": arn, "Status": status})
    if progress is decisions.Progress.DONE:
        invocation.helper.Data.clear()
        invocation.helper.Data.update(decisions.attributes(snapshot))
        return arn
    if progress is decisions.Progress.FAILED:
        raise invocation.CopyFailed(f"copy {arn} ended in status {status} and will not become ACTIVE")
    if invocation.past_deadline():
        raise invocation.CopyFailed(
            f"copy {arn} was not ACTIVE within {invocation.timeout()} seconds (status {status}); "
            "raise the CopiedSnapshot timeout if copies of this size take longer"
        )
    return None


def _discard_failed_copy(arn: str) -> None:
    """A replacement copy that failed is not the resource's: delete it rather than leak it."""
    try:
        deletion = invocation.service().delete(arn)
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
    account, region = invocation.account_and_region(context)
    if decisions.owned_snapshot_arn(arn, region=region, account=account) is None:
        return False
    try:
        return invocation.service().tags_of(arn).get(rules.OWNER_TAG) == owner
    except ClientError:
        return False


def create(event: Mapping[str, Any], context: Any) -> str:
    props = properties.parse_properties(event["ResourceProperties"])
    _refuse_other_place(props, context)
    return _start_copy(event, props, props.target_snapshot_name, invocation.create_service(context))


def poll_create(event: Mapping[str, Any], context: Any) -> str | None:
    return _poll_copy(str(invocation.helper.Data["PhysicalResourceId"]), invocation.create_service(context))


def update(event: Mapping[str, Any], context: Any) -> str:
    new = properties.parse_properties(event["ResourceProperties"])
    old = _old_properties(event)
    arn = str(event["PhysicalResourceId"])
    owner = decisions.owner_tag_value(str(event["StackId"]), str(event["LogicalResourceId"]), new)
    replace = decisions.plan_update(old, new) is decisions.UpdatePlan.REPLACE
    if replace:
        _refuse_other_place(new, context)
    if replace and not _made_from(arn, owner, context):
        name = decisions.replacement_name(old, new, str(event["RequestId"]))
        return _start_copy(event, new, name, invocation.service())
    changes = decisions.tag_changes(old.tags, new.tags)
    try:
        invocation.service().untag(arn, changes.to_remove)
        invocation.service().tag(arn, changes.to_set)
        snapshot = invocation.service().get(arn)
    except ClientError as error:
        raise invocation.failure(error, f"updating the tags of copy {arn}") from error
    if snapshot is None:
        raise invocation.CopyFailed(
            f"copy {arn} no longer exists; remove it from the stack or change its name"
        )
    invocation.helper.Data.update(decisions.attributes(snapshot))
    logger.info({"message": "tags updated", "SnapshotArn": arn, "Removed": list(changes.to_remove)})
    invocation.helper.answer_now()
    return arn


def poll_update(event: Mapping[str, Any], context: Any) -> str | None:
    arn = str(invocation.helper.Data["PhysicalResourceId"])
    try:
        return _poll_copy(arn, invocation.service())
    except invocation.CopyFailed:
        _discard_failed_copy(arn)
        raise
