"""Creating and updating a copy: check the source, copy (or adopt), wait for ACTIVE, retag or replace."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, invocation, outcomes, properties, rules
from copied_snapshot_runtime.outcomes import Done, Failed, Outcome, Waiting
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.snapshots import Deletion, SnapshotService, error_code

logger = logging.getLogger(__name__)


def _refuse_other_place(props: properties.CopyProperties, context: Any) -> None:
    """Refuses, before any call, a source outside the function's region and account."""
    account, region = invocation.account_and_region(context)
    problem = rules.place_problem(props.source_snapshot_arn, region=region, account=account)
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
    found = (api.tags_of(arn) or {}).get(rules.OWNER_TAG)
    if found != owner:
        raise invocation.CopyFailed(
            f"name in use: snapshot {arn} already holds the name {name!r} and was made by "
            f"{decisions.owner_named_by(found)}; choose another target_snapshot_name"
        )
    logger.info({"message": "adopting the copy an earlier delivery of this request made", "SnapshotArn": arn})
    return existing


def _start_copy(
    request: Request, props: properties.CopyProperties, name: str, api: SnapshotService
) -> Outcome:
    _check_source(props, api)
    owner = decisions.owner_tag_value(request.stack_id, request.logical_id, props)
    tags = {**props.tags, rules.OWNER_TAG: owner}
    try:
        snapshot = api.copy(props.source_snapshot_arn, name, props.kms_key_id, props.copy_tags, tags)
    except ClientError as error:
        if error_code(error) != "ConflictException":
            raise invocation.failure(error, f"copying {props.source_snapshot_arn} to {name!r}") from error
        snapshot = _adopt(name, owner, error, api)
    arn = str(snapshot["snapshotArn"])
    invocation.copy_made(arn)
    logger.info(
        {
            "message": "copy started",
            "SnapshotArn": arn,
            "SourceSnapshotArn": props.source_snapshot_arn,
            "Status": snapshot.get("status"),
        }
    )
    return invocation.started(request, arn, arn, props.timeout_seconds)


def _poll_copy(request: Request, arn: str, api: SnapshotService) -> Outcome:
    try:
        snapshot = api.get(arn)
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"reading copy {arn}") from error
    if snapshot is None:
        raise invocation.CopyFailed(f"copy {arn} no longer exists; it was deleted while copying")
    status = str(snapshot.get("status"))
    progress = decisions.progress_of(status)
    logger.info({"message": "copy status", "SnapshotArn": arn, "Status": status})
    if progress is decisions.Progress.DONE:
        return Done(arn, decisions.attributes(snapshot))
    if progress is decisions.Progress.FAILED:
        raise invocation.CopyFailed(f"copy {arn} ended in status {status} and will not become ACTIVE")
    if invocation.past_deadline(request):
        raise invocation.CopyFailed(
            f"copy {arn} was not ACTIVE within {invocation.timeout(request)} seconds (status {status}); "
            "raise the CopiedSnapshot timeout if copies of this size take longer"
        )
    return Waiting()


def _old_properties(raw: object) -> properties.CopyProperties:
    try:
        return properties.parse_properties(raw)
    except ValueError:
        # A rollback Update brings back as "old" the values the failed update was refused for.
        return properties.read_unchecked(raw)


def _owner_of_current(request: Request, context: Any) -> str | None:
    """The ownership tag of the copy an Update is asked to change, None when it is gone; fails unless it is
    this resource's."""
    arn = request.physical_id or ""
    account, region = invocation.account_and_region(context)
    me = decisions.owner_name(request.stack_id, request.logical_id)
    if decisions.owned_snapshot_arn(arn, region=region, account=account) is None:
        raise invocation.CopyFailed(
            f"physical id {arn[:300]!r} is not a snapshot of {region}/{account}; CopiedSnapshot {me} "
            "updates only the copy it made"
        )
    try:
        tags = invocation.service().tags_of(arn)
    except ClientError as error:
        raise invocation.failure(error, f"reading the tags of copy {arn}") from error
    if tags is None:
        return None
    owner = tags.get(rules.OWNER_TAG)
    if not decisions.owned_by(owner, request.stack_id, request.logical_id):
        raise invocation.CopyFailed(
            f"snapshot {arn} belongs to {decisions.owner_named_by(owner)}, not to CopiedSnapshot {me}; "
            "it is left unchanged"
        )
    return str(owner)


def create(request: Request, context: Any) -> Outcome:
    props = properties.parse_properties(request.properties)
    _refuse_other_place(props, context)
    return _start_copy(
        request, props, props.target_snapshot_name, invocation.create_service(request, context)
    )


def poll_create(request: Request, context: Any) -> Outcome:
    return _poll_copy(request, invocation.watched_arn(request), invocation.create_service(request, context))


def update(request: Request, context: Any) -> Outcome:
    new = properties.parse_properties(request.properties)
    old = _old_properties(request.old_properties)
    replace = decisions.plan_update(old, new) is decisions.UpdatePlan.REPLACE
    if replace:
        _refuse_other_place(new, context)
    current_owner = _owner_of_current(request, context)
    arn = str(request.physical_id)
    # A copy made from exactly these properties (as after a rolled-back update) needs no replacement. One
    # gone needs one all the more: a replacement delivered again after CloudFormation deleted the old copy
    # adopts the copy its first delivery made.
    if replace and current_owner != decisions.owner_tag_value(request.stack_id, request.logical_id, new):
        name = decisions.replacement_name(old, new, request.request_id)
        return _start_copy(request, new, name, invocation.service())
    if current_owner is None:
        raise invocation.CopyFailed(
            f"copy {arn} no longer exists; remove it from the stack or change its name"
        )
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
    logger.info({"message": "tags updated", "SnapshotArn": arn, "Removed": list(changes.to_remove)})
    if replace:  # the rollback of a replacement: the copy that failed to replace this one goes
        leftover = _failed_replacement(request, replacing=old, kept=new)
        if leftover is not None and _discard(leftover) is Deletion.BUSY:
            return dataclasses.replace(
                invocation.started(request, arn, leftover, new.timeout_seconds), discarding=True
            )
    return Done(arn, decisions.attributes(snapshot))


def _failed_replacement(
    request: Request, *, replacing: properties.CopyProperties, kept: properties.CopyProperties
) -> str | None:
    """The copy an update to `replacing` made that the rollback to `kept` leaves behind: found by its name
    and an ownership tag naming exactly this resource and those properties."""
    owner = decisions.owner_tag_value(request.stack_id, request.logical_id, replacing)
    api = invocation.service()
    try:
        named = api.find_named(lambda name: decisions.may_be_replacement_name(replacing, kept, name))
        for snapshot in named:
            arn = str(snapshot["snapshotArn"])
            if arn != request.physical_id and (api.tags_of(arn) or {}).get(rules.OWNER_TAG) == owner:
                logger.warning(
                    {"message": "the replacement that failed is left; deleting it", "SnapshotArn": arn}
                )
                return arn
    except ClientError as error:
        raise invocation.failure(error, "looking for the replacement copy that failed") from error
    return None


def _delete_replacement(arn: str) -> Deletion:
    """Asks to delete a replacement copy that failed (ClientError as the service answered)."""
    deletion = invocation.service().delete(arn)
    logger.warning({"message": f"failed replacement copy: delete {deletion.value}", "SnapshotArn": arn})
    return deletion


def _discard(arn: str) -> Deletion:
    try:
        return _delete_replacement(arn)
    except ClientError as error:
        raise invocation.failure(error, f"deleting failed replacement copy {arn}") from error


def _poll_discard(request: Request, arn: str) -> Outcome:
    """A rollback's poll: asks again to delete the failed replacement until it takes, then answers with the
    kept copy. Past the deadline the rollback still succeeds (failing it would leave the stack in
    UPDATE_ROLLBACK_FAILED); the update's FAILED reason named the replacement."""
    kept = str(request.physical_id)
    try:
        busy = _discard(arn) is Deletion.BUSY
        snapshot = invocation.service().get(kept)
    except invocation.CopyFailed:
        if invocation.past_deadline(request):
            raise
        return Waiting()
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"reading copy {kept}") from error
    if busy and not invocation.past_deadline(request):
        return Waiting()
    if busy:
        logger.error(
            {"message": "failed replacement copy still busy at the deadline; delete it", "SnapshotArn": arn}
        )
    if snapshot is None:
        raise invocation.CopyFailed(
            f"copy {kept} no longer exists; remove it from the stack or change its name"
        )
    return Done(kept, decisions.attributes(snapshot))


def _left_behind(arn: str, why: str, reason: str) -> Failed:
    """A FAILED answer that first names the replacement left behind (reasons are cut at 256): the
    rollback's Update deletes it once it can, and without a rollback the user must."""
    cause = reason.removeprefix(f"copy {arn} ")
    return Failed(
        f"replacement copy {arn} is left for the rollback or you to delete ({why}); it failed: {cause}"
    )


def _discard_failed_copy(request: Request, arn: str, reason: str) -> Outcome:
    """A replacement copy that failed is not the resource's: delete it rather than leak it.

    One still copying refuses deletion: it is asked again at each poll while the deadline allows, and
    after that the FAILED reason names it, so that the user can delete it.
    """
    try:
        deletion = _delete_replacement(arn)
    except ClientError as error:
        logger.exception({"message": "could not delete failed replacement copy", "SnapshotArn": arn})
        return _left_behind(arn, f"deleting it failed: {error_code(error)}", reason)
    if deletion is not Deletion.BUSY:
        return Failed(reason)
    if not invocation.past_deadline(request):
        logger.warning(
            {"message": "failed replacement copy still busy, asking again next poll", "Reason": reason}
        )
        return Waiting()
    return _left_behind(arn, "it was still busy at the deadline and refused deletion", reason)


def poll_update(request: Request, context: Any) -> Outcome:
    arn = invocation.watched_arn(request)
    if request.data.get(outcomes.DISCARDING):
        return _poll_discard(request, arn)
    try:
        return _poll_copy(request, arn, invocation.service())
    except invocation.CopyFailed as failure:
        return _discard_failed_copy(request, arn, str(failure))
