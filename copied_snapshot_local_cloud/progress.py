"""Deployment progress printed the way `cdk deploy` prints it: stack events as they happen, a heartbeat for
resources that wait, "(no changes)" for a stack that did not change, the deployment time, then outputs.

It consumes the engine's StackEvent stream only. Times are read on the local cloud's clock when an event
arrives (events are published as they happen), so elapsed times are simulated seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from copied_snapshot_local_cloud.clock import Clock, ScaledClock
from copied_snapshot_local_cloud.cloudformation.custom import Waiting
from copied_snapshot_local_cloud.cloudformation.engine import NO_CHANGES, STACK_TYPE, StackEvent
from copied_snapshot_local_cloud.cloudformation.store import StackState

HEARTBEAT = 10.0  # wall-clock seconds between two reports of a resource that still waits
CUSTOM_TYPES = ("Custom::", "AWS::CloudFormation::CustomResource")


def event_line(event: StackEvent) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(event.timestamp))
    reason = f" {event.reason}" if event.reason else ""
    kind = f"{event.resource_type:<28}"
    return f"{event.stack} | {clock} | {event.status:<36} | {kind} | {event.logical_id}{reason}"


def outputs_lines(stack: StackState) -> list[str]:
    lines = [f" ✅  {stack.stack_name} ({stack.status})", "", "Outputs:"]
    lines += [f"{stack.stack_name}.{name} = {value}" for name, value in sorted(stack.outputs.items())]
    lines.append(f"Stack ARN:\n{stack.stack_id}")
    return lines


def waits_for(resource_type: str, request: Waiting | None = None, now: float = 0.0) -> str:
    """What a resource in progress waits for: a custom resource's request and its ServiceTimeout deadline
    when known, else what its type tells."""
    if request is not None:
        return (
            f"its function's response to {request.request_type} request {request.request_id} at the "
            f"ResponseURL (ServiceTimeout in {duration(max(0.0, request.deadline - now), 0)})"
        )
    if resource_type.startswith(CUSTOM_TYPES):
        return "its function's response at the ResponseURL (up to its ServiceTimeout)"
    return "its service"


def in_progress(status: str) -> bool:
    return status.endswith("_IN_PROGRESS")


def duration(seconds: float, digits: int = 2) -> str:
    """`3.14s`, or `1m35.0s` from a minute on (one digit less after the minutes)."""
    if seconds < 60:
        return f"{seconds:.{digits}f}s"
    digits = max(digits - 1, 0)
    minutes, rest = divmod(round(seconds, digits), 60)  # rounded first: never `1m60s`
    return f"{int(minutes)}m{rest:.{digits}f}s"


@dataclass
class _Waiting:
    event: StackEvent
    since: float  # on the clock
    reported: float  # wall clock, last time a heartbeat named it


@dataclass
class _Deployment:
    started: float  # on the clock
    started_wall: float


class Progress:
    """Writes a line per stack event, a heartbeat every `heartbeat` wall-clock seconds for each resource that
    still waits, and at the end of a stack's deployment "(no changes)" when the engine says nothing changed,
    and its time. `requests` tells which request a custom resource waits for (the custom resource provider's
    `waiting_for`)."""

    def __init__(
        self,
        write: Callable[[str], None] = print,
        clock: Clock | None = None,
        heartbeat: float = HEARTBEAT,
        requests: Callable[[str, str], Waiting | None] = lambda stack, logical_id: None,
    ) -> None:
        self._write = write
        self._requests = requests
        self._clock: Clock = clock or ScaledClock()
        self._heartbeat = heartbeat
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, str], _Waiting] = {}
        self._deployments: dict[str, _Deployment] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="local-cloud-progress", daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __call__(self, event: StackEvent) -> None:
        now, wall = self._clock.now(), time.monotonic()
        lines = [event_line(event)]
        with self._lock:
            key = (event.stack, event.logical_id)
            if event.resource_type == STACK_TYPE and event.logical_id == event.stack:
                lines += self._stack_event(event, now, wall)
            elif in_progress(event.status):
                self._waiting[key] = _Waiting(event, now, wall)
            else:
                self._waiting.pop(key, None)
        for line in lines:
            self._write(line)

    def _stack_event(self, event: StackEvent, now: float, wall: float) -> list[str]:
        if in_progress(event.status) and event.stack not in self._deployments:
            self._deployments[event.stack] = _Deployment(now, wall)
            return []
        if in_progress(event.status):
            return []
        deployment = self._deployments.pop(event.stack, None)
        if deployment is None:
            return []
        lines = []
        if event.status == "UPDATE_COMPLETE" and event.reason == NO_CHANGES:
            lines.append(f" ✅  {event.stack} (no changes)")
        took = duration(now - deployment.started)
        wall_took = wall - deployment.started_wall
        if self._clock.scale != 1:
            took += f" ({duration(wall_took)} on the wall clock)"
        verb = "Destroy" if event.status.startswith("DELETE") else "Deployment"
        lines.append(f"\n ✨  {verb} time: {took}\n")
        return lines

    def beat(self) -> list[str]:
        """The heartbeat lines due now (each waiting resource at most once per `heartbeat`)."""
        now, wall = self._clock.now(), time.monotonic()
        lines = []
        with self._lock:
            for waiting in self._waiting.values():
                if wall - waiting.reported < self._heartbeat:
                    continue
                waiting.reported = wall
                event = waiting.event
                request = self._requests(event.stack, event.logical_id)
                lines.append(
                    f"{event.stack} | {event.logical_id} ({event.resource_type}) still {event.status}: "
                    f"waiting {duration(now - waiting.since, 0)} for "
                    f"{waits_for(event.resource_type, request, now)}"
                )
        return lines

    def _beat(self) -> None:
        while not self._stopped.wait(min(1.0, self._heartbeat)):
            for line in self.beat():
                self._write(line)
