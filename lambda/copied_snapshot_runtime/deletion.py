"""Deleting a copy: only this account and region's snapshots, waiting until gone, asking again while busy."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, invocation, properties
from copied_snapshot_runtime.snapshots import Deletion

logger = logging.getLogger(__name__)


def delete(event: Mapping[str, Any], context: Any) -> str:
    physical_id = str(event.get("PhysicalResourceId", ""))
    account, region = invocation.account_and_region(context)
    arn = decisions.owned_snapshot_arn(physical_id, region=region, account=account)
    if arn is None:
        logger.info({"message": "not a snapshot of this account and region; nothing to delete"})
        invocation.helper.answer_now()
        return physical_id
    try:
        deletion = invocation.service().delete(str(arn))
    except ClientError as error:
        raise invocation.failure(error, f"deleting copy {physical_id}") from error
    if deletion is Deletion.GONE:
        logger.info({"message": "already gone", "SnapshotArn": physical_id})
        invocation.helper.answer_now()
        return physical_id
    try:
        timeout = properties.parse_timeout(
            event.get("ResourceProperties", {}).get(
                properties.TIMEOUT_SECONDS, properties.DEFAULT_TIMEOUT_SECONDS
            )
        )
    except properties.InvalidProperties:
        timeout = properties.DEFAULT_TIMEOUT_SECONDS
    invocation.start_deadline(timeout)
    logger.info({"message": f"delete {deletion.value}", "SnapshotArn": physical_id})
    return physical_id


def poll_delete(event: Mapping[str, Any], context: Any) -> str | None:
    # crhelper repeats the first invocation's Data on every poll, so the snapshot itself is the state.
    arn = str(invocation.helper.Data["PhysicalResourceId"])
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
        if invocation.still_transient(error):
            return None
        raise invocation.failure(error, f"deleting copy {arn}") from error
    if snapshot is None:
        logger.info({"message": "deleted", "SnapshotArn": arn})
        invocation.helper.Data.clear()
        return arn
    if invocation.past_deadline():
        refused = " and refused deletion as busy" if busy else ""
        raise invocation.CopyFailed(
            f"snapshot {arn} was still {snapshot.get('status')}{refused} after {invocation.timeout()} seconds"
        )
    return None
