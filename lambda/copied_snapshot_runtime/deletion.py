"""Deleting a copy: only this resource's own, waiting until gone, asking again while busy."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, invocation, properties, rules
from copied_snapshot_runtime.outcomes import Done, Outcome, Waiting
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.snapshots import Deletion

logger = logging.getLogger(__name__)


def _tags(arn: str) -> dict[str, str] | None:
    try:
        return invocation.service().tags_of(arn)
    except ClientError as error:
        raise invocation.failure(error, f"reading the tags of snapshot {arn}") from error


def _copy_named_in_properties(request: Request) -> str | None:
    """The copy a Create made before it could answer with its ARN (it timed out, or CloudFormation
    cancelled it), found by its name and an ownership tag naming exactly this resource and properties."""
    try:
        props = properties.parse_properties(request.properties)
    except ValueError:
        return None  # a Create refused for its properties made nothing
    try:
        snapshot = invocation.service().find_by_name(props.target_snapshot_name)
    except ClientError as error:
        raise invocation.failure(error, f"looking for copy {props.target_snapshot_name!r}") from error
    if snapshot is None:
        return None
    arn = str(snapshot["snapshotArn"])
    owner = (_tags(arn) or {}).get(rules.OWNER_TAG)
    if owner != decisions.owner_tag_value(request.stack_id, request.logical_id, props):
        logger.info(
            {
                "message": "the snapshot holding the name is not this resource's; left alone",
                "SnapshotArn": arn,
                "Owner": decisions.owner_named_by(owner),
            }
        )
        return None
    logger.info({"message": "found by name the copy a Create made before it answered", "SnapshotArn": arn})
    return arn


def _own_copy(request: Request, context: Any) -> str | None:
    """The snapshot this Delete may remove: this resource's own copy, or None (then nothing is touched)."""
    physical_id = request.physical_id or ""
    account, region = invocation.account_and_region(context)
    arn = decisions.owned_snapshot_arn(physical_id, region=region, account=account)
    if arn is None:
        if decisions.searchable_by_name(physical_id):
            return _copy_named_in_properties(request)
        logger.info({"message": "not a snapshot of this account and region; nothing to delete"})
        return None
    tags = _tags(str(arn))
    if tags is None:
        logger.info({"message": "already gone", "SnapshotArn": str(arn)})
        return None
    owner = tags.get(rules.OWNER_TAG)
    if not decisions.owned_by(owner, request.stack_id, request.logical_id):
        logger.warning(
            {
                "message": "not this resource's copy; left alone",
                "SnapshotArn": str(arn),
                "Owner": decisions.owner_named_by(owner),
            }
        )
        return None
    return str(arn)


def delete(request: Request, context: Any) -> Outcome:
    physical_id = request.physical_id or ""
    arn = _own_copy(request, context)
    if arn is None:
        return Done(physical_id)
    try:
        deletion = invocation.service().delete(arn)
    except ClientError as error:
        raise invocation.failure(error, f"deleting copy {arn}") from error
    if deletion is Deletion.GONE:
        logger.info({"message": "already gone", "SnapshotArn": arn})
        return Done(physical_id)
    try:
        timeout = properties.parse_timeout(properties.read_timeout(request.properties))
    except properties.InvalidProperties:
        timeout = properties.DEFAULT_TIMEOUT_SECONDS
    logger.info({"message": f"delete {deletion.value}", "SnapshotArn": arn})
    return invocation.started(request, physical_id, arn, timeout)


def poll_delete(request: Request, context: Any) -> Outcome:
    arn = invocation.watched_arn(request)
    busy = False
    try:
        snapshot = invocation.service().get(arn)
        if snapshot is not None and snapshot.get("status") != decisions.DELETING:
            # Deletion was refused as busy (a copy still in progress): ask again until it takes.
            deletion = invocation.service().delete(arn)
            busy = deletion is Deletion.BUSY
            if deletion is Deletion.GONE:
                snapshot = None
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"deleting copy {arn}") from error
    if snapshot is None:
        logger.info({"message": "deleted", "SnapshotArn": arn})
        return Done(request.physical_id or arn)
    if invocation.past_deadline(request):
        refused = " and refused deletion as busy" if busy else ""
        raise invocation.CopyFailed(
            f"snapshot {arn} was still {snapshot.get('status')}{refused} after {invocation.timeout(request)} "
            "seconds"
        )
    return Waiting()
