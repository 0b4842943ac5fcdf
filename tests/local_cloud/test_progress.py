"""Deployment progress as `cdk deploy` shows it, from the engine's stack events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from copied_snapshot_local_cloud.clock import SimulatedClock
from copied_snapshot_local_cloud.cloudformation.custom import Waiting
from copied_snapshot_local_cloud.cloudformation.engine import NO_CHANGES, StackEvent
from copied_snapshot_local_cloud.progress import Progress

STACK = "AWS::CloudFormation::Stack"


@pytest.fixture
def clock() -> Iterator[SimulatedClock]:
    running = SimulatedClock(start=1_000_000.0)
    yield running
    running.stop()


def event(clock: SimulatedClock, logical_id: str, kind: str, status: str, reason: str = "") -> StackEvent:
    return StackEvent(clock.now(), "Shop", logical_id, kind, status, reason)


def test_an_unchanged_stack_says_no_changes_and_its_deployment_time(clock: SimulatedClock) -> None:
    lines: list[str] = []
    progress = Progress(lines.append, clock)
    progress(event(clock, "Shop", STACK, "UPDATE_IN_PROGRESS"))
    clock.sleep(2)
    progress(event(clock, "Shop", STACK, "UPDATE_COMPLETE", NO_CHANGES))
    assert " ✅  Shop (no changes)" in lines
    [time_line] = [line for line in lines if "Deployment time" in line]
    assert "Deployment time: 2.0" in time_line


def test_an_update_that_changed_only_outputs_is_no_no_changes(clock: SimulatedClock) -> None:
    """No resource event, but the engine did not mark the update as unchanged: its outputs changed."""
    lines: list[str] = []
    progress = Progress(lines.append, clock)
    progress(event(clock, "Shop", STACK, "UPDATE_IN_PROGRESS"))
    progress(event(clock, "Shop", STACK, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
    progress(event(clock, "Shop", STACK, "UPDATE_COMPLETE"))
    assert not any("no changes" in line for line in lines)


def test_a_changed_stack_gives_its_time_in_simulated_seconds_and_no_no_changes(clock: SimulatedClock) -> None:
    lines: list[str] = []
    progress = Progress(lines.append, clock)
    progress(event(clock, "Shop", STACK, "CREATE_IN_PROGRESS"))
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "CREATE_IN_PROGRESS"))
    clock.sleep(95)
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "CREATE_COMPLETE"))
    progress(event(clock, "Shop", STACK, "CREATE_COMPLETE"))
    assert not any("no changes" in line for line in lines)
    assert any("Deployment time: 1m35.0s" in line for line in lines)


def test_a_waiting_resource_gets_a_heartbeat_saying_what_it_waits_for(clock: SimulatedClock) -> None:
    lines: list[str] = []
    progress = Progress(lines.append, clock, heartbeat=0)
    progress(event(clock, "Shop", STACK, "CREATE_IN_PROGRESS"))
    progress(event(clock, "Role", "AWS::IAM::Role", "CREATE_COMPLETE"))
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "CREATE_IN_PROGRESS"))
    clock.sleep(45)
    [beat] = progress.beat()
    assert beat == (
        "Shop | Copy (Custom::CopiedSnapshot) still CREATE_IN_PROGRESS: waiting 45s for its function's "
        "response at the ResponseURL (up to its ServiceTimeout)"
    )
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "CREATE_COMPLETE"))
    assert progress.beat() == []


def test_the_heartbeat_names_the_request_a_custom_resource_waits_for_and_its_deadline(
    clock: SimulatedClock,
) -> None:
    request = Waiting("Shop", "Copy", "Create", "req-1", clock.now() + 3600)
    progress = Progress(
        lambda line: None,
        clock,
        heartbeat=0,
        requests=lambda stack, logical_id: request if (stack, logical_id) == ("Shop", "Copy") else None,
    )
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "CREATE_IN_PROGRESS"))
    clock.sleep(600)
    [beat] = progress.beat()
    assert beat.endswith(
        "waiting 10m0s for its function's response to Create request req-1 at the ResponseURL "
        "(ServiceTimeout in 50m0s)"
    )


def test_the_heartbeat_repeats_no_more_often_than_asked(clock: SimulatedClock) -> None:
    progress = Progress(lambda line: None, clock, heartbeat=3600)
    progress(event(clock, "Copy", "Custom::CopiedSnapshot", "DELETE_IN_PROGRESS"))
    assert progress.beat() == []
