"""What a create, update, delete or poll function decided. One adapter (`resource.CopyResource`) turns it
into crhelper's answer, physical id, Data and polling; the functions never write crhelper's state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Kept in crhelper's Data for the polls of a request (the polling rule's Input brings it back each time).
SNAPSHOT_ARN = "SnapshotArn"  # the snapshot the polls watch
DEADLINE = "Deadline"  # when the handler gives up waiting (the CopiedSnapshot timeout)
TIMEOUT = "TimeoutSeconds"  # that timeout, for messages
STARTED = "Started"  # when the first invocation of the request ran
ANSWER_BY = "AnswerBy"  # when CloudFormation stops waiting (ServiceTimeout): no answer helps after it
SEARCH_NAME = "SearchName"  # a Delete's polls look for the copy of this name (a Create may still make it)
DISCARDING = "Discarding"  # a rollback's polls delete the failed replacement they watch, then answer
SEARCH_OWNER = "SearchOwner"  # ... carrying this ownership tag (polls do not get the properties)
RULE_PUT_AT = "RulePutAt"  # when the polling rule was put: its firings follow from it
INTERVAL = "PollingInterval"  # seconds between two asks within an invocation


@dataclass(frozen=True)
class Started:
    """Work is under way: answer later, from a poll. `physical_id` is answered if the invocation times out."""

    physical_id: str
    snapshot_arn: str
    deadline: float
    timeout_seconds: int
    started: float
    answer_by: float
    search_name: str = ""
    search_owner: str = ""
    discarding: bool = False

    def poll_state(self) -> dict[str, float | int | str]:
        state: dict[str, float | int | str] = {
            SNAPSHOT_ARN: self.snapshot_arn,
            DEADLINE: self.deadline,
            TIMEOUT: self.timeout_seconds,
            STARTED: self.started,
            ANSWER_BY: self.answer_by,
        }
        if self.search_name:
            state[SEARCH_NAME], state[SEARCH_OWNER] = self.search_name, self.search_owner
        if self.discarding:
            state[DISCARDING] = 1
        return state


@dataclass(frozen=True)
class Waiting:
    """A poll found the work still under way: no answer yet."""


@dataclass(frozen=True)
class Done:
    """The work is complete: answer SUCCESS now (from a first invocation or a poll)."""

    physical_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Answer FAILED now. Without a physical id, `decisions.failure_physical_id` picks it."""

    reason: str
    physical_id: str | None = None


Outcome = Started | Waiting | Done | Failed
