"""Deployment progress printed the way `cdk deploy` prints it: stack events as they happen, then outputs."""

from __future__ import annotations

import time
from collections.abc import Callable

from local_cloud.cloudformation.engine import StackEvent
from local_cloud.cloudformation.store import StackState


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


def printer(write: Callable[[str], None] = print) -> Callable[[StackEvent], None]:
    return lambda event: write(event_line(event))
