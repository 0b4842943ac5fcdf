"""What an event or a snapshot status means. Pure functions: no AWS calls, no clock."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from copied_snapshot_runtime import polling, rules
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

    Tags the stack never set (copied from the source, or added by hand) are left alone, and so is the
    ownership tag.
    """
    to_set = {key: value for key, value in new.items() if old.get(key) != value}
    to_remove = tuple(
        sorted(key for key in old if key not in new and not key.lower().startswith(rules.RESERVED_TAG_PREFIX))
    )
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
    return name_with_suffix(new.target_snapshot_name, request_id)


def may_be_replacement_name(replacing: CopyProperties, kept: CopyProperties, name: str) -> bool:
    """Whether `name` may be that of a copy a replacement from `kept` to `replacing` made (the request
    that made it, and so a generated name's suffix, is not known to the rollback)."""
    wanted = replacing.target_snapshot_name.lower()
    if wanted != kept.target_snapshot_name.lower():
        return name.lower() == wanted
    if not replacing.name_generated:
        return False
    base = name_with_suffix(replacing.target_snapshot_name, "").rsplit("-", 1)[0]
    return re.fullmatch(re.escape(base.lower()) + r"-[0-9a-f]{8}", name.lower()) is not None


def name_with_suffix(name: str, request_id: str) -> str:
    """A generated name made distinct for one request, within the name rules (snapshots' and clusters')."""
    suffix = hashlib.sha256(request_id.encode()).hexdigest()[:8]
    base = name[: rules.NAME_MAX_LENGTH - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}"


def owner_tag_value(stack_id: str, logical_id: str, props: CopyProperties) -> str:
    """The ownership tag of a copy: who made it (readable) and a digest of who and from what (proof).

    A snapshot carrying the same value was made by this very resource from these very properties, so a
    retried Create may adopt it, and a rollback Update may keep it.
    """
    spec = "|".join(
        (
            stack_id,
            logical_id,
            props.source_snapshot_arn,
            props.target_snapshot_name.lower(),
            props.kms_key_id or "",
            str(props.copy_tags),
        )
    )
    digest = hashlib.sha256(spec.encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{owner_name(stack_id, logical_id)}#{digest}"


DIGEST_LENGTH = 16


def owner_name(stack_id: str, logical_id: str) -> str:
    """The readable part of the ownership tag: the stack's name and the resource's logical id."""
    parts = stack_id.split("/")
    stack_name = parts[1] if len(parts) > 2 else stack_id
    return f"{stack_name}/{logical_id}"[: rules.tag_value_constraint().max_length - DIGEST_LENGTH - 1]


def owned_by(tag_value: str | None, stack_id: str, logical_id: str) -> bool:
    """Whether an ownership tag names this stack and logical id: the fence around Update and Delete.

    The digest is left out: it changes with the properties a copy was made from, while the copy stays
    the resource's through in-place updates.
    """
    return bool(tag_value) and str(tag_value).rsplit("#", 1)[0] == owner_name(stack_id, logical_id)


def owner_named_by(tag_value: str | None) -> str:
    """Who a snapshot's ownership tag names, for messages."""
    if not tag_value:
        return "no CopiedSnapshot (it has no copied-snapshot:owner tag)"
    return "CopiedSnapshot " + tag_value.rsplit("#", 1)[0]


def failure_physical_id(request_type: str, event_physical_id: str | None, copy_arn: str | None) -> str | None:
    """The physical id a FAILED answer carries, or None for an id made up from the request.

    A Create reports the copy it made, so that the rollback's Delete removes it; an Update stays the copy
    it was (a failed replacement is the handler's to discard); a Delete keeps its id.
    """
    if request_type == "Create":
        return copy_arn
    return event_physical_id or None


# The id a FAILED Create answers when it has no copy to name: `<stack>_<logical id>_<random>`. Stack names
# and logical ids hold no underscore (CloudFormation User Guide: stack names are letters, digits and
# hyphens; logical ids are alphanumeric), so this shape is the handler's alone, and an id made up at a
# timeout carries one more part.
_ENDED_WITHOUT_COPY = re.compile(r"[A-Za-z][-A-Za-z0-9]*_[A-Za-z0-9]+_[A-Za-z0-9]+")
TIMED_OUT_ID_PART = "timedout"
# Lambda runs a failed asynchronous invocation (an error or a timeout) twice more, about one and then two
# minutes later (Lambda Developer Guide, "Error handling and automatic retries in Lambda").
LAMBDA_RETRY_DELAYS_SECONDS = (60.0, 120.0)


def made_up_physical_id(stack_name: str, logical_id: str, suffix: str, *, timed_out: bool = False) -> str:
    """The id a FAILED Create answers without a copy: whether it timed out shows in it, for the Delete."""
    parts = [stack_name, logical_id, *([TIMED_OUT_ID_PART] if timed_out else []), suffix]
    return "_".join(parts)


def copy_may_still_appear(physical_id: str) -> bool:
    """Whether a Create that a Delete finds no copy of may still make one.

    It may when it never answered (CloudFormation cancelled it or stopped waiting: the id is
    CloudFormation's) or answered at its timeout: its invocation may still be running, and Lambda runs a
    failed invocation again. A Create that answered FAILED otherwise has ended, and is not run again.
    """
    return searchable_by_name(physical_id) and _ENDED_WITHOUT_COPY.fullmatch(physical_id) is None


def search_window_seconds(function_timeout_seconds: float) -> float:
    """How long after a Delete arrives a Create it found no copy of may still make one: the Create's
    invocation in flight and Lambda's two retries of it, each up to the function's timeout, and the
    delays between them."""
    attempts = 1 + len(LAMBDA_RETRY_DELAYS_SECONDS)
    return attempts * function_timeout_seconds + sum(LAMBDA_RETRY_DELAYS_SECONDS)


def searchable_by_name(physical_id: str) -> bool:
    """Whether a Delete's physical id may stand for a copy whose ARN CloudFormation never got.

    A Create that timed out or was cancelled before it answered leaves an id crhelper or CloudFormation
    made up, never an ARN. Anything that looks like an ARN but is not one of ours (another region, a
    trailing newline) is left alone instead.
    """
    return bool(physical_id) and not physical_id.startswith("arn:")


# Errors worth asking again about: the service was busy or failing, not refusing the request.
RETRYABLE_ERRORS = frozenset({"ThrottlingException", "InternalServerException"})


def is_retryable(error_code: str) -> bool:
    return error_code in RETRYABLE_ERRORS


# Every call is asked at most this often while the service is busy or failing, waiting at most this long.
ATTEMPTS = 5
MAX_WAIT_SECONDS = 20.0
# Stands for a lost connection, which botocore reports as an exception rather than an error code.
CONNECTION_LOST = "ConnectionLost"
ACCESS_DENIED = "AccessDeniedException"
# A policy attached moments before a Create may not be effective yet (IAM User Guide, "Troubleshooting
# IAM" > "Changes that I make are not always immediately visible"); how long it is given, from the first
# invocation of the Create.
IAM_PROPAGATION_SECONDS = 120.0
# What a Lambda invocation keeps, after waiting, for its remaining calls and its answer.
INVOCATION_MARGIN_SECONDS = polling.INVOCATION_MARGIN_SECONDS


def retry_wait(
    error_code: str,
    attempt: int,
    retry_after: float | None,
    waited: float,
    access_denied_budget: float,
    *,
    transient_waited: float = 0.0,
    transient_budget: float = 0.0,
) -> float | None:
    """Seconds to wait before asking a call again after its `attempt`-th try failed, or None to give up.

    Passing errors and lost connections get ATTEMPTS tries with exponential backoff (or the Retry-After the
    service asks for), and more while `transient_waited` stays within `transient_budget`: a busy service
    then slows a call down instead of failing it. AccessDenied is asked again only while `waited` stays
    within `access_denied_budget`.
    """
    wait = min(retry_after or 2.0 ** (attempt - 1), MAX_WAIT_SECONDS)
    if is_retryable(error_code) or error_code == CONNECTION_LOST:
        within_budget = transient_waited + wait <= transient_budget
        return wait if attempt < ATTEMPTS or within_budget else None
    if error_code == ACCESS_DENIED and waited + wait <= access_denied_budget:
        return wait
    return None


def access_denied_budget(started: float, now: float, remaining_seconds: float) -> float:
    """Seconds an invocation may spend asking again after AccessDenied: what is left of IAM's propagation
    delay since the Create started, within what the invocation can afford."""
    left = started + IAM_PROPAGATION_SECONDS - now
    return max(0.0, min(left, remaining_seconds - INVOCATION_MARGIN_SECONDS))


def transient_budget(remaining_seconds: float, until_deadline: float) -> float:
    """Seconds a first invocation's calls may together wait on a busy service (throttling): what the
    invocation can afford, and no later than the resource's deadline."""
    return max(0.0, min(remaining_seconds - INVOCATION_MARGIN_SECONDS, until_deadline))
