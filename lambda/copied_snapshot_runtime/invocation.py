"""What every invocation shares: the crhelper resource, the API clients, the deadline and failures."""

from __future__ import annotations

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
