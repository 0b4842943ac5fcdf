"""What every invocation shares: the crhelper resource, the API clients, deadlines and failures.

The state a request keeps between its polls comes in with the request (`Request.data`) and goes out in a
`Started` outcome; nothing here writes crhelper's shared object.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import decisions, environment, outcomes, properties
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.resource import CopyResource
from copied_snapshot_runtime.snapshots import SnapshotService, docdb_elastic_client, error_code

logger = logging.getLogger(__name__)
# The clock deadlines are measured with, and the sleep between in-process asks; tests replace both.
clock = time.time
sleep = time.sleep
helper = CopyResource(
    rule_prefix=os.environ.get(environment.POLL_RULE_PREFIX_ENV, environment.DEFAULT_POLL_RULE_PREFIX),
    clock=lambda: clock(),  # noqa: PLW0108 - read late: tests replace `clock`
    sleep=lambda seconds: sleep(seconds),  # noqa: PLW0108 - read late: tests replace `sleep`
)


class CopyFailed(RuntimeError):
    """The copy cannot complete; the message says which snapshot and why, for the stack's events."""


@functools.cache
def service() -> SnapshotService:
    """The API in the Lambda's own region and account, where sources and copies are."""
    return SnapshotService(docdb_elastic_client())


def first_invocation(request: Request) -> float:
    """When the request's first invocation ran (now, for a first invocation)."""
    return float(request.data.get(outcomes.STARTED, clock()))


def create_service(request: Request, context: Any) -> SnapshotService:
    """The API for a Create: AccessDenied is asked again while IAM may still be propagating the policy.

    A first invocation's calls also wait out throttling for as long as the invocation and the deadline
    allow (many copies created at once share the account's request rate); a poll's throttled ask is asked
    again at the next ask instead.
    """
    remaining = context.get_remaining_time_in_millis() / 1000
    now = clock()
    budget = decisions.access_denied_budget(first_invocation(request), now, remaining)
    busy_budget = 0.0
    if not request.poll:
        until_deadline = first_invocation(request) + request_timeout(request) - now
        busy_budget = decisions.transient_budget(remaining, until_deadline)
    return service().with_budgets(budget, busy_budget)


def request_timeout(request: Request) -> int:
    """The resource's timeout from a first invocation's properties; the default when unreadable."""
    try:
        return properties.parse_timeout(properties.read_timeout(request.properties))
    except properties.InvalidProperties:
        return properties.DEFAULT_TIMEOUT_SECONDS


def copy_made(arn: str) -> None:
    """Called the moment CopyClusterSnapshot answers: from then on a timeout answer carries the ARN."""
    helper.remember_copy(arn)


def started(request: Request, physical_id: str, snapshot_arn: str, timeout_seconds: int) -> outcomes.Started:
    """Work under way, with what its polls need: the deadline and when CloudFormation stops waiting."""
    first = first_invocation(request)
    return outcomes.Started(
        physical_id=physical_id,
        snapshot_arn=snapshot_arn,
        deadline=clock() + timeout_seconds,
        timeout_seconds=timeout_seconds,
        started=first,
        answer_by=first + properties.service_timeout(request.properties),
    )


def watched_arn(request: Request) -> str:
    """The snapshot a poll watches (polls set up by earlier versions kept only crhelper's id)."""
    return str(request.data.get(outcomes.SNAPSHOT_ARN) or request.data["PhysicalResourceId"])


def failure(error: ClientError, doing: str) -> CopyFailed:
    message = error.response.get("Error", {}).get("Message", "")
    return CopyFailed(f"{doing} failed: {error_code(error)}: {message}")


def account_and_region(context: Any) -> tuple[str, str]:
    arn_parts = str(context.invoked_function_arn).split(":")
    return arn_parts[4], arn_parts[3]


def timeout(request: Request) -> int:
    """The timeout the deadline was started with, for messages."""
    return int(request.data[outcomes.TIMEOUT])


def past_deadline(request: Request) -> bool:
    return clock() > float(request.data[outcomes.DEADLINE])


def still_transient(error: ClientError, request: Request) -> bool:
    """A poll that met a passing error tries again next minute, while the deadline allows."""
    if decisions.is_retryable(error_code(error)) and not past_deadline(request):
        logger.warning({"message": "passing error, asking again next poll", "Error": error_code(error)})
        return True
    return False
