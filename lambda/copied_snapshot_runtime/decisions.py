"""What an event or a snapshot status means. Pure functions: no AWS calls, no clock."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from copied_snapshot_runtime import rules
from copied_snapshot_runtime.properties import CopyProperties


class UpdatePlan(enum.Enum):
    IN_PLACE = "in place"  # nothing the snapshot holds changes (tags may)
    REPLACE = "replace"  # a new copy is made; CloudFormation then deletes the old one


class Progress(enum.Enum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


ACTIVE = "ACTIVE"
DELETING = "DELETING"
# Statuses after which a snapshot will never become ACTIVE by itself.
FAILURE_STATUSES = frozenset(
    {
        DELETING,
        "VPC_ENDPOINT_LIMIT_EXCEEDED",
        "IP_ADDRESS_LIMIT_EXCEEDED",
        "INVALID_SECURITY_GROUP_ID",
        "INVALID_SUBNET_ID",
        "INACCESSIBLE_ENCRYPTION_CREDS",
        "INACCESSIBLE_SECRET_ARN",
        "INACCESSIBLE_VPC_ENDPOINT",
        "INCOMPATIBLE_NETWORK",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS_RECOVERABLE",
    }
)

ATTRIBUTE_FIELDS = {
    "SnapshotArn": "snapshotArn",
    "SnapshotName": "snapshotName",
    "Status": "status",
    "KmsKeyId": "kmsKeyId",
    "ClusterArn": "clusterArn",
    "SnapshotCreationTime": "snapshotCreationTime",
}


def plan_update(old: CopyProperties, new: CopyProperties) -> UpdatePlan:
    """Only tags and the timeout can change in place; anything the copy is made from needs a new copy."""
    same_copy = (
        old.source_snapshot_arn == new.source_snapshot_arn
        and old.target_snapshot_name.lower() == new.target_snapshot_name.lower()
        and old.kms_key_id == new.kms_key_id
        and old.copy_tags == new.copy_tags
    )
    return UpdatePlan.IN_PLACE if same_copy else UpdatePlan.REPLACE


@dataclass(frozen=True)
class TagChanges:
    to_set: Mapping[str, str]
    to_remove: tuple[str, ...]


def tag_changes(old: Mapping[str, str], new: Mapping[str, str]) -> TagChanges:
    """What to tag and untag so that the tags this resource manages go from `old` to `new`.

    Tags the stack never set (copied from the source, or added by hand) are left alone.
    """
    to_set = {key: value for key, value in new.items() if old.get(key) != value}
    to_remove = tuple(sorted(key for key in old if key not in new))
    return TagChanges(to_set=to_set, to_remove=to_remove)


def owned_snapshot_arn(physical_id: str, region: str, account: str) -> rules.SnapshotArn | None:
    """The snapshot a physical id names, if it is one this handler may touch.

    crhelper invents ids for failed creates and CloudFormation sends placeholders during rollbacks; neither
    is a snapshot ARN. A snapshot ARN of another account or region is never ours to delete either.
    """
    arn = rules.parse_snapshot_arn(physical_id)
    if arn is None or arn.region != region or arn.account != account:
        return None
    return arn


def progress_of(status: str) -> Progress:
    """Unknown statuses count as in progress: the deadline ends the wait if they never settle."""
    if status == ACTIVE:
        return Progress.DONE
    if status in FAILURE_STATUSES:
        return Progress.FAILED
    return Progress.WAITING


def attributes(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """The Fn::GetAtt attributes of a copy, from a ClusterSnapshot as the API returns it."""
    return {name: str(snapshot.get(field, "")) for name, field in ATTRIBUTE_FIELDS.items()}


class NameKeptOnReplacement(ValueError):
    """A replacement would need the name the current copy still holds."""


def replacement_name(old: CopyProperties, new: CopyProperties, request_id: str) -> str:
    """The name of the new copy that replaces the current one.

    Both copies exist until CloudFormation deletes the old one, so they cannot share a name. A generated
    name gets a suffix from the request; a name the user chose must be changed by the user, as
    CloudFormation requires of every custom-named resource.
    """
    if old.target_snapshot_name.lower() != new.target_snapshot_name.lower():
        return new.target_snapshot_name
    if not new.name_generated:
        raise NameKeptOnReplacement(
            f"cannot replace snapshot copy {new.target_snapshot_name!r} under the same name: the change "
            "needs a new copy while the old one still exists; change target_snapshot_name too, or omit "
            "it to let CopiedSnapshot generate names"
        )
    suffix = hashlib.sha256(request_id.encode()).hexdigest()[:8]
    base = new.target_snapshot_name[: rules.NAME_MAX_LENGTH - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}"
