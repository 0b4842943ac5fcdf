"""Deleting a copy: only this resource's own, waiting until gone, asking again while busy."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, environment, invocation, outcomes, properties, rules
from copied_snapshot_runtime.outcomes import Done, Outcome, Waiting
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.snapshots import Deletion

logger = logging.getLogger(__name__)


def _tags(arn: str) -> dict[str, str] | None:
    try:
        return invocation.service().tags_of(arn)
    except ClientError as error:
        raise invocation.failure(error, f"reading the tags of snapshot {arn}") from error


def _named_copy(request: Request) -> tuple[str, str] | None:
    """The name a Create of this resource copies to, and the ownership tag it gives the copy; None when
    the properties were refused (such a Create made nothing)."""
    try:
        props = properties.parse_properties(request.properties)
    except ValueError:
        return None
    return props.target_snapshot_name, decisions.owner_tag_value(request.stack_id, request.logical_id, props)


def _copy_named(name: str, owner_tag: str) -> Mapping[str, Any] | None:
    """The copy a Create made before it could answer with its ARN (it timed out, or CloudFormation
    cancelled it), found by its name and an ownership tag naming exactly this resource and properties."""
    try:
        snapshot = invocation.service().find_by_name(name)
    except ClientError as error:
        raise invocation.failure(error, f"looking for copy {name!r}") from error
    if snapshot is None:
        return None
    arn = str(snapshot["snapshotArn"])
    owner = (_tags(arn) or {}).get(rules.OWNER_TAG)
    if owner != owner_tag:
        logger.info(
            {
                "message": "the snapshot holding the name is not this resource's; left alone",
                "SnapshotArn": arn,
                "Owner": decisions.owner_named_by(owner),
            }
        )
        return None
    logger.info({"message": "found by name the copy a Create made before it answered", "SnapshotArn": arn})
    return snapshot


def _copy_named_in_properties(request: Request) -> str | None:
    named = _named_copy(request)
    snapshot = None if named is None else _copy_named(*named)
    return None if snapshot is None else str(snapshot["snapshotArn"])


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


def _timeout(request: Request) -> int:
    try:
        return properties.parse_timeout(properties.read_timeout(request.properties))
    except properties.InvalidProperties:
        return properties.DEFAULT_TIMEOUT_SECONDS


def _function_timeout() -> float:
    """The handler function's timeout, as the construct tells it (Lambda does not)."""
    try:
        return float(os.environ[environment.FUNCTION_TIMEOUT_ENV])
    except (KeyError, ValueError):
        return float(environment.DEFAULT_FUNCTION_TIMEOUT_SECONDS)


def delete(request: Request, context: Any) -> Outcome:
    physical_id = request.physical_id or ""
    arn = _own_copy(request, context)
    if arn is None:
        named = _named_copy(request) if decisions.copy_may_still_appear(physical_id) else None
        if named is None:
            return Done(physical_id)
        return _keep_looking(request, physical_id, *named)
    try:
        deletion = invocation.service().delete(arn)
    except ClientError as error:
        raise invocation.failure(error, f"deleting copy {arn}") from error
    if deletion is Deletion.GONE:
        logger.info({"message": "already gone", "SnapshotArn": arn})
        return Done(physical_id)
    logger.info({"message": f"delete {deletion.value}", "SnapshotArn": arn})
    return invocation.started(request, physical_id, arn, _timeout(request))


def _keep_looking(request: Request, physical_id: str, name: str, owner_tag: str) -> Outcome:
    """No copy yet, but the Create may still make one: its polls look again until it no longer can (or
    the resource's timeout ends), deleting what they find."""
    window = decisions.search_window_seconds(_function_timeout())
    seconds = min(_timeout(request), math.ceil(window))
    started = invocation.started(request, physical_id, "", seconds)
    logger.info(
        {
            "message": "no copy yet; a Create that did not answer may still make it: looking at each poll",
            "SnapshotName": name,
            "Seconds": seconds,
        }
    )
    return dataclasses.replace(started, search_name=name, search_owner=owner_tag)


def _poll_search(request: Request, name: str, owner_tag: str) -> Outcome:
    """A poll of `_keep_looking`: deletes the copy if one appeared; done once the window has passed and
    nothing holds the name (a copy being deleted is on its way)."""
    arn, deletion = None, Deletion.GONE
    try:
        snapshot = _copy_named(name, owner_tag)
        if snapshot is not None:
            arn = str(snapshot["snapshotArn"])
            deleting = snapshot.get("status") == decisions.DELETING
            deletion = Deletion.STARTED if deleting else invocation.service().delete(arn)
            logger.info({"message": f"a copy appeared; delete {deletion.value}", "SnapshotArn": arn})
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"deleting copy {name!r}") from error
    except invocation.CopyFailed:
        if not invocation.past_deadline(request):
            return Waiting()
        raise
    if not invocation.past_deadline(request):
        return Waiting()
    if deletion is Deletion.BUSY:
        raise invocation.CopyFailed(
            f"copy {arn} ({name!r}), made by a Create that did not answer, was still being made after "
            f"{invocation.timeout(request)} seconds and refused deletion: delete it once it is ACTIVE"
        )
    return Done(request.physical_id or "")


def poll_delete(request: Request, context: Any) -> Outcome:
    search_name = str(request.data.get(outcomes.SEARCH_NAME) or "")
    if search_name:
        return _poll_search(request, search_name, str(request.data.get(outcomes.SEARCH_OWNER) or ""))
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
