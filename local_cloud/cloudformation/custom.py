"""Custom resources as CloudFormation runs them: an event to the ServiceToken's function, then a wait for
the answer at the ResponseURL, up to the resource's ServiceTimeout."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from local_cloud.cloudformation.providers import Change, Outcome, ResourceFailed
from local_cloud.cloudformation.responses import ResponseEndpoint

DEFAULT_SERVICE_TIMEOUT = 3600
MAX_PHYSICAL_ID_BYTES = 1024


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
    request_id: str
    sent: float
    answered: float | None = None
    status: str = "WAITING"
    physical_id: str = ""
    reason: str = ""


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
    def __init__(self, responses: ResponseEndpoint) -> None:
        self._responses = responses
        self.timelines: list[Timeline] = []

    def create(self, change: Change) -> Outcome:
        return self._request(change, "Create")

    def update(self, change: Change) -> Outcome:
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
        timeline = Timeline(change.stack.stack_name, change.logical_id, request_type, request_id, time.time())
        self.timelines.append(timeline)
        change.cloud.runner.invoke_async(token, event, trigger="cloudformation")
        timeout = int(change.properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT))
        answer = self._responses.wait(request_id, timeout)
        if answer is None:
            timeline.status = "TIMED_OUT"
            raise ResourceFailed(
                "CloudFormation did not receive a response from your Custom Resource within "
                f"{timeout} seconds. "
                f"Please check your logs for requestId [{request_id}]."
            )
        body, timeline.answered = answer
        return self._outcome(change, event, body, timeline)

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
        if status == "FAILED":
            raise CustomResourceFailed(
                str(body.get("Reason") or f"See the details in the function's log for {event['RequestId']}"),
                str(physical_id) if physical_id else None,
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
