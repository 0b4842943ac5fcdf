"""Custom resources as CloudFormation runs them: an event to the ServiceToken's function, then a wait for
the answer at the ResponseURL, up to the resource's ServiceTimeout.

CloudFormation's rules that a handler must survive, played here as the CloudFormation User Guide
("Custom resources", "Custom resource request objects", "ServiceTimeout") describes them:
- no answer within ServiceTimeout fails the resource; a Create that failed this way is then sent a Delete;
- a Create still waiting when a sibling fails is cancelled ("Resource creation cancelled") and later sent a
  Delete with a physical id CloudFormation made up, since none was answered (aws-cdk PR 36951;
  cloudformation-coverage-roadmap issue 1814);
- FAILED without a PhysicalResourceId becomes "Invalid PhysicalResourceId", and a failed Create gets a made-up
  id for its Delete (assumed from reports such as remind101/empire issue 918, not documented);
- an Update may not change the ServiceToken ("Modifying service token is not allowed."): nothing is sent.
The made-up id has the shape of CloudFormation's generated names, `<stack>-<logical id>-<random>` (assumed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from copied_snapshot_local_cloud.cloudformation.errors import NotSent, ResourceFailed
from copied_snapshot_local_cloud.cloudformation.providers import Change, Outcome, generated_name

DEFAULT_SERVICE_TIMEOUT = 3600
MAX_PHYSICAL_ID_BYTES = 1024
CANCELLED = "Resource creation cancelled"
INVALID_PHYSICAL_ID = "Invalid PhysicalResourceId"
SERVICE_TOKEN_CHANGED = "Modifying service token is not allowed."  # noqa: S105 - a status reason


class Responses(Protocol):
    """Where answers arrive: a one-time URL per request, and a wait for what was put there."""

    def url_for(self, request_id: str) -> str: ...

    def wait(self, request_id: str, timeout: float) -> tuple[dict[str, Any], float] | None:
        """The answer and when it came, or None after `timeout` simulated seconds or once abandoned."""
        ...

    def abandon(self, request_id: str) -> None:
        """Ends the wait for `request_id` with no answer (CloudFormation cancelled the request)."""
        ...


class CustomResourceFailed(ResourceFailed):
    """The function answered FAILED; CloudFormation keeps the physical id it gave, for the rollback."""

    def __init__(self, reason: str, physical_id: str | None) -> None:
        super().__init__(reason)
        self.physical_id = physical_id


@dataclass
class Timeline:
    """One request to a custom resource, for reports and benchmarks."""

    stack: str
    logical_id: str
    request_type: str
    sent: float
    answered: float | None = None
    status: str = "WAITING"
    physical_id: str = ""
    reason: str = ""
    sent_physical_id: str = ""  # the id an Update or a Delete carried (a Delete's answer may name another)


@dataclass(frozen=True)
class Waiting:
    """A request whose answer CloudFormation waits for, and until when (its ServiceTimeout, simulated)."""

    stack: str
    logical_id: str
    request_type: str
    request_id: str
    deadline: float


def as_cloudformation_sends(value: Any) -> Any:
    """CloudFormation hands custom resources every scalar property as a string."""
    if isinstance(value, dict):
        return {key: as_cloudformation_sends(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_sends(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CustomResource:
    """The provider of every custom resource type. Times and the ServiceTimeout wait are the cloud's clock's
    (simulated seconds), so a simulated clock skips the time nobody works through."""

    def __init__(self, responses: Responses) -> None:
        self._responses = responses
        self.timelines: list[Timeline] = []
        self.waiting: dict[str, Waiting] = {}  # request id -> what a resource waits for, for the heartbeat

    def waiting_for(self, stack: str, logical_id: str) -> Waiting | None:
        """The request a resource's answer is awaited for, if one is."""
        return next(
            (
                item
                for item in list(self.waiting.values())
                if (item.stack, item.logical_id) == (stack, logical_id)
            ),
            None,
        )

    def create(self, change: Change) -> Outcome:
        return self._request(change, "Create")

    def update(self, change: Change) -> Outcome:
        old_token = (change.old_properties or {}).get("ServiceToken")
        if old_token is not None and old_token != change.properties.get("ServiceToken"):
            raise NotSent(SERVICE_TOKEN_CHANGED)
        return self._request(change, "Update")

    def delete(self, change: Change) -> None:
        self._request(change, "Delete")

    def _request(self, change: Change, request_type: str) -> Outcome:
        token = str(change.properties.get("ServiceToken", ""))
        if change.cloud.runner.function(token) is None:
            raise ResourceFailed(f"ServiceToken {token!r} is not a Lambda function of this local cloud")
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": self._responses.url_for(request_id),
            "StackId": change.stack.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": change.logical_id,
            "ResourceType": change.type,
            "ResourceProperties": as_cloudformation_sends(change.properties),
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = change.physical_id
        if request_type == "Update":
            event["OldResourceProperties"] = as_cloudformation_sends(change.old_properties or {})
        clock = change.cloud.clock
        timeline = Timeline(change.stack.stack_name, change.logical_id, request_type, clock.now())
        timeline.sent_physical_id = str(event.get("PhysicalResourceId", ""))
        self.timelines.append(timeline)
        timeout = int(change.properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT))
        waiting = Waiting(
            change.stack.stack_name, change.logical_id, request_type, request_id, timeline.sent + timeout
        )
        self.waiting[request_id] = waiting
        try:
            change.cloud.runner.invoke_async(token, event, trigger="cloudformation")
            answer = self._wait(change, request_type, request_id, timeout)
        finally:
            del self.waiting[request_id]
        if answer is None:
            timeline.status = "CANCELLED" if change.cancelled.is_set() else "TIMED_OUT"
            reason = CANCELLED if change.cancelled.is_set() else (
                "CloudFormation did not receive a response from your Custom Resource within "
                f"{timeout} seconds. Please check your logs for requestId [{request_id}]."
            )  # fmt: skip
            if request_type == "Create":  # CloudFormation deletes it on rollback, by an id of its own
                raise CustomResourceFailed(reason, invented_physical_id(change))
            raise ResourceFailed(reason)
        body, timeline.answered = answer
        return self._outcome(change, event, body, timeline)

    def _wait(
        self, change: Change, request_type: str, request_id: str, timeout: float
    ) -> tuple[dict[str, Any], float] | None:
        """The answer, or None when ServiceTimeout passed or CloudFormation cancelled this Create."""
        if request_type == "Create":
            change.cancelled.when_set(lambda: self._responses.abandon(request_id))
        return self._responses.wait(request_id, timeout)

    def _outcome(
        self, change: Change, event: dict[str, Any], body: dict[str, Any], timeline: Timeline
    ) -> Outcome:
        status = body.get("Status")
        physical_id = body.get("PhysicalResourceId")
        timeline.status, timeline.physical_id = str(status), str(physical_id or "")
        timeline.reason = str(body.get("Reason", ""))
        problem = _malformed(event, body)
        if problem:
            timeline.status = "INVALID"
            raise CustomResourceFailed(f"Invalid response from the custom resource: {problem}", None)
        if status == "FAILED" and not physical_id:
            invented = invented_physical_id(change) if event["RequestType"] == "Create" else None
            raise CustomResourceFailed(INVALID_PHYSICAL_ID, invented)
        if status == "FAILED":
            raise CustomResourceFailed(
                str(body.get("Reason") or f"See the details in the function's log for {event['RequestId']}"),
                str(physical_id),
            )
        return Outcome(str(physical_id), dict(body.get("Data") or {}))


def _malformed(event: dict[str, Any], body: dict[str, Any]) -> str | None:
    if body.get("Status") not in ("SUCCESS", "FAILED"):
        return f"Status must be SUCCESS or FAILED, got {body.get('Status')!r}"
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if body.get(key) != event[key]:
            return f"{key} {body.get(key)!r} does not match the request's {event[key]!r}"
    physical_id = body.get("PhysicalResourceId")
    if body.get("Status") == "SUCCESS" and not physical_id:
        return "PhysicalResourceId is required"
    if physical_id and len(str(physical_id).encode()) > MAX_PHYSICAL_ID_BYTES:
        return f"PhysicalResourceId is longer than {MAX_PHYSICAL_ID_BYTES} bytes"
    return None


def invented_physical_id(change: Change) -> str:
    """The physical id CloudFormation makes up for a custom resource that answered none."""
    return generated_name(change, 64)
