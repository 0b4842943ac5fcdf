"""What every invocation shares: the crhelper resource, the API clients, the deadline and failures."""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, environment
from copied_snapshot_runtime.resource import CopyResource
from copied_snapshot_runtime.snapshots import SnapshotService, docdb_elastic_client, error_code

# Kept in crhelper's Data between polls; replaced by the attributes once the copy is ACTIVE.
DEADLINE = "Deadline"
TIMEOUT = "TimeoutSeconds"
STARTED = "Started"  # when the first invocation of a Create ran

logger = logging.getLogger(__name__)
# The clock deadlines are measured with; tests move it forward.
clock = time.time
helper = CopyResource(
    rule_prefix=os.environ.get(environment.POLL_RULE_PREFIX_ENV, environment.DEFAULT_POLL_RULE_PREFIX)
)


class CopyFailed(RuntimeError):
    """The copy cannot complete; the message says which snapshot and why, for the stack's events."""


@functools.cache
def service() -> SnapshotService:
    """The API in the Lambda's own region and account, where sources and copies are."""
    return SnapshotService(docdb_elastic_client())


def create_service(context: Any) -> SnapshotService:
    """The API for a Create: AccessDenied is asked again while IAM may still be propagating the policy.

    The start is kept in crhelper's Data, which every poll of the request brings back.
    """
    started = float(helper.Data.setdefault(STARTED, clock()))
    remaining = context.get_remaining_time_in_millis() / 1000
    return service().with_access_denied_budget(decisions.access_denied_budget(started, clock(), remaining))


def failure(error: ClientError, doing: str) -> CopyFailed:
    message = error.response.get("Error", {}).get("Message", "")
    return CopyFailed(f"{doing} failed: {error_code(error)}: {message}")


def account_and_region(context: Any) -> tuple[str, str]:
    arn_parts = str(context.invoked_function_arn).split(":")
    return arn_parts[4], arn_parts[3]


def start_deadline(timeout_seconds: int) -> None:
    helper.Data[DEADLINE] = clock() + timeout_seconds
    helper.Data[TIMEOUT] = timeout_seconds


def timeout() -> int:
    """The timeout the deadline was started with, for messages."""
    return int(helper.Data[TIMEOUT])


def past_deadline() -> bool:
    return clock() > float(helper.Data[DEADLINE])


def still_transient(error: ClientError) -> bool:
    """A poll that met a passing error tries again next minute, while the deadline allows."""
    if decisions.is_retryable(error_code(error)) and not past_deadline():
        logger.warning({"message": "passing error, asking again next poll", "Error": error_code(error)})
        return True
    return False
