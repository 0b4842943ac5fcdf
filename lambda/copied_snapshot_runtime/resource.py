"""crhelper's CfnResource, adjusted where its defaults do not fit a long-running copy.

- INFO logging as JSON (crhelper logs whole events, ResponseURL included, at DEBUG); no sleep on Delete.
- Polls once a minute; an event that needs no waiting (a tag change, a Delete with nothing to delete) is
  answered at once instead of after a polling round.
- Polling rules get names under one prefix that the construct's IAM policy and its one static Lambda
  permission are scoped to, so no per-resource permission statement is ever added to the function.
- A failed poll answers with a real physical id instead of an invented one: on Create the new copy's ARN,
  so that CloudFormation's rollback deletes the copy; on Update the unchanged old ARN (the handler deletes
  the failed replacement itself).
- Polling events leave the resource properties out, so that they fit EventBridge's 8192-character Input.
- Long reasons keep their beginning (the snapshot and the cause), not crhelper's last 240 characters.
- Responses go through `response.send_response` (bounded retries, 2xx only).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from crhelper import resource_helper

from copied_snapshot_runtime import response

logger = logging.getLogger(__name__)

RULE_NAME_MAX_LENGTH = 64
REASON_MAX_LENGTH = 256
_PROPERTY_KEYS = ("ResourceProperties", "OldResourceProperties")
_RANDOM_SUFFIX_LENGTH = 8


def shorten_reason(reason: str) -> str:
    """A reason within what crhelper passes on untouched, cut at its end."""
    if len(reason) <= REASON_MAX_LENGTH:
        return reason
    return reason[: REASON_MAX_LENGTH - 3] + "..."


def poll_rule_name(prefix: str, logical_id: str, suffix: str) -> str:
    room = RULE_NAME_MAX_LENGTH - len(prefix) - len(suffix)
    return f"{prefix}{logical_id[:room]}{suffix}"


# crhelper has no type information; its CfnResource is typed as Any here.
_CfnResource: Any = resource_helper.CfnResource


class CopyResource(_CfnResource):  # type: ignore[misc]
    # Set by crhelper for each invocation.
    PhysicalResourceId: Any
    Status: str
    Reason: str
    Data: dict[str, Any]
    _event: dict[str, Any]

    def __init__(self, rule_prefix: str) -> None:
        super().__init__(
            json_logging=True, log_level="INFO", boto_level="WARNING", polling_interval=1, sleep_on_delete=0
        )
        self._rule_prefix = rule_prefix
        self._answer_now = False

    def answer_now(self) -> None:
        """Called by a create/update/delete function whose work is already complete."""
        self._answer_now = True

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self._answer_now = False
        super().__call__(event, context)

    def _poll_enabled(self) -> Any:
        return not self._answer_now and super()._poll_enabled()

    def _wrap_function(self, func: Any) -> None:
        super()._wrap_function(func)
        polling = "CrHelperPoll" in self._event
        if polling and self.Status == "FAILED" and not self.PhysicalResourceId:
            if self._event["RequestType"] == "Update":
                # The resource is still the copy it was; the failed new copy is the handler's to discard.
                self.PhysicalResourceId = self._event["PhysicalResourceId"]
            else:
                # Report the copy under its own id: the rollback's Delete then removes it.
                self.PhysicalResourceId = self.Data.get("PhysicalResourceId") or ""

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        # crhelper keeps the last 240 characters of a long reason; the first ones name the snapshot and the
        # cause, so keep those instead.
        self.Reason = shorten_reason(str(self.Reason))
        super()._send(status, shorten_reason(reason), send_response=response.send_response)

    def _put_rule(self) -> str:
        name = poll_rule_name(
            self._rule_prefix, self._event["LogicalResourceId"], self._rand_string(_RANDOM_SUFFIX_LENGTH)
        )
        answer = self._events_client.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="ENABLED")
        return str(answer["RuleArn"])

    def _put_targets(self, func_name: str) -> None:
        """crhelper's target, but its Input without the resource properties.

        EventBridge takes at most 8192 characters of Input, and the properties (50 long tags) can exceed
        that alone. Polls need only the ids, the ResponseURL and crhelper's Data, which the event keeps.
        """
        rule_arn = str(self._event["CrHelperRule"])
        _, partition, _, region, account = rule_arn.split(":")[:5]
        poll_event = {key: value for key, value in self._event.items() if key not in _PROPERTY_KEYS}
        self._events_client.put_targets(
            Rule=rule_arn.split("/")[1],
            Targets=[
                {
                    "Id": "1",
                    "Arn": f"arn:{partition}:lambda:{region}:{account}:function:{func_name}",
                    "Input": json.dumps(poll_event),
                }
            ],
        )

    def _add_permission(self, rule_arn: str) -> str:
        return ""  # the construct grants events.amazonaws.com once, for rules under the prefix

    def _remove_permission(self, sid: str) -> None:
        return None
