"""The local cloud's one clock, and EventBridge's schedules on it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from copied_snapshot_local_cloud.clock import ScaledClock, SimulatedClock
from copied_snapshot_local_cloud.scheduler import Scheduler
from tests.support.scripts import run_script

RULE = "arn:aws:events:us-east-1:123456789012:rule/Poll"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:handler"


@pytest.fixture
def clock() -> Iterator[SimulatedClock]:
    running = SimulatedClock(start=1_000_000.0)
    yield running
    running.stop()


def test_a_scaled_clocks_wait_runs_a_signal_handled_while_it_waits() -> None:
    """A command's main thread waits on the clock for a whole deployment: Ctrl-C must reach it there, even
    when the kernel hands the signal to another thread."""
    done = run_script(
        """
        import signal, threading
        from copied_snapshot_local_cloud.clock import ScaledClock

        event = threading.Event()
        signal.signal(signal.SIGUSR1, lambda signum, frame: event.set())
        threading.Timer(0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)).start()
        print(ScaledClock(60).wait(event, None))
        """
    )
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr


def test_a_scaled_clock_runs_its_waits_faster() -> None:
    clock = ScaledClock(60)
    started, simulated = time.monotonic(), clock.now()
    clock.sleep(6)
    assert 0.09 < time.monotonic() - started < 0.5
    assert 6 <= clock.now() - simulated < 30
    assert clock.wait(threading.Event(), 3) is False


def test_a_simulated_clock_skips_idle_time_to_the_deadline(clock: SimulatedClock) -> None:
    started = time.monotonic()
    clock.sleep(3600)
    assert time.monotonic() - started < 2
    assert 1_003_600 <= clock.now() < 1_003_600.5
    assert clock.jumps


def test_a_simulated_clock_does_not_skip_while_anything_runs(clock: SimulatedClock) -> None:
    release = clock.hold()
    woke = threading.Event()

    def sleeper() -> None:
        clock.sleep(100)
        woke.set()

    threading.Thread(target=sleeper, daemon=True).start()
    assert not woke.wait(0.3)
    assert clock.now() < 1_000_010
    release()
    assert woke.wait(5)
    assert 1_000_100 <= clock.now() < 1_000_101


def test_a_busy_thread_waiting_on_the_clock_lets_it_skip(clock: SimulatedClock) -> None:
    with clock.busy():
        clock.sleep(600)
    assert 1_000_600 <= clock.now() < 1_000_600.5


def test_a_set_event_ends_a_wait_and_no_time_is_skipped(clock: SimulatedClock) -> None:
    event = threading.Event()
    threading.Timer(0.1, event.set).start()
    with clock.busy():
        assert clock.wait(event, None) is True
    assert clock.now() < 1_000_001


class Events:
    """EventBridge's rules and targets, as the scheduler reads them from moto."""

    class exceptions:  # noqa: N801 - boto3's spelling
        ResourceNotFoundException = LookupError

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []
        self.deleted: set[str] = set()  # listed, but gone by the time their targets are asked for

    def get_paginator(self, name: str) -> Events:
        return self

    def paginate(self) -> list[dict[str, Any]]:
        return [{"Rules": list(self.rules)}]

    def list_targets_by_rule(self, Rule: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
        if Rule in self.deleted:
            raise LookupError(f"Rule {Rule} does not exist.")
        return {"Targets": [{"Id": "1", "Arn": FUNCTION, "Input": json.dumps({"rule": Rule})}]}


class Lambda:
    class exceptions:  # noqa: N801 - boto3's spelling
        ResourceNotFoundException = LookupError

    def get_policy(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803
        statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                     "Action": "lambda:InvokeFunction"}  # fmt: skip
        return {"Policy": json.dumps({"Statement": [statement]})}


class Runner:
    """Lambda as the scheduler sees it: records each delivery with its time and delay."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.listeners: list[Any] = []
        self.starting: list[Any] = []
        self.deliveries: list[tuple[float, str, float]] = []

    def running(self) -> int:
        return 0  # deliveries are recorded, not run

    def invoke_async(self, name: str, event: Any, *, trigger: str, delay: float = 0.0) -> None:
        self.deliveries.append((self.clock.now(), trigger, delay))


def scheduler_on(clock: SimulatedClock, **options: Any) -> tuple[Scheduler, Events, Runner]:
    events, lambdas, runner = Events(), Lambda(), Runner(clock)
    clients = {"events": events, "lambda": lambdas}
    scheduler = Scheduler(lambda service, region, account: clients[service], runner,  # type: ignore[arg-type]
                          lambda: [("us-east-1", "123456789012")],
                          clock=clock, tick=None, **options)  # fmt: skip
    return scheduler, events, runner


def until(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rules_fire_on_their_schedule_without_drift(clock: SimulatedClock) -> None:
    scheduler, events, runner = scheduler_on(clock)
    events.rules.append(
        {"Name": "Poll", "Arn": RULE, "State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}
    )
    scheduler.start()
    try:
        until(lambda: len(runner.deliveries) >= 10)
    finally:
        scheduler.stop()
    first = runner.deliveries[0][0]
    assert 1_000_060 <= first < 1_000_061
    for number, (fired, _, _) in enumerate(runner.deliveries[:10]):
        assert abs(fired - (first + 60 * number)) < 0.25


def test_a_rule_deleted_while_a_round_runs_does_not_keep_the_others_from_firing(
    clock: SimulatedClock,
) -> None:
    scheduler, events, runner = scheduler_on(clock)
    for name in ("Answered", "Poll"):
        events.rules.append(
            {
                "Name": name,
                "Arn": f"{RULE}-{name}",
                "State": "ENABLED",
                "ScheduleExpression": "rate(1 minute)",
            }
        )
    scheduler.run_due(0.0)
    events.deleted.add("Answered")  # its handler answered and removed it after the round listed it
    scheduler.run_due(60.0)
    assert [trigger for _, trigger, _ in runner.deliveries] == ["events"]  # Poll fired all the same


def test_a_round_that_fires_late_does_not_delay_the_next(clock: SimulatedClock) -> None:
    scheduler, events, runner = scheduler_on(clock)
    events.rules.append(
        {"Name": "Poll", "Arn": RULE, "State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}
    )
    scheduler.run_due(0.0)
    assert scheduler.run_due(64.0) == 120  # fired 4 s late; the next is still due at 120, not at 124
    scheduler.run_due(120.0)
    assert len(runner.deliveries) == 2


def test_a_late_round_fires_once_and_keeps_the_grid(clock: SimulatedClock) -> None:
    scheduler, events, runner = scheduler_on(clock)
    events.rules.append(
        {"Name": "Poll", "Arn": RULE, "State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}
    )
    assert scheduler.run_due(0.0) == 60
    assert scheduler.run_due(185.0) == 240  # three periods late: one firing, then back on the grid
    assert len(runner.deliveries) == 1


def test_duplicate_deliveries_are_seeded_and_can_be_concurrent(clock: SimulatedClock) -> None:
    def deliveries(seed: int) -> list[tuple[str, float]]:
        scheduler, events, runner = scheduler_on(clock, duplicates=0.5, duplicate_delay=30, seed=seed)
        events.rules.append(
            {"Name": "Poll", "Arn": RULE, "State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}
        )
        for period in range(21):
            scheduler.run_due(period * 60.0)
        return [(trigger, delay) for _, trigger, delay in runner.deliveries]

    first = deliveries(3)
    assert first == deliveries(3)
    assert [trigger for trigger, _ in first].count("events") == 20
    again = [delay for trigger, delay in first if trigger == "events (again)"]
    assert 3 <= len(again) <= 17
    assert all(0 <= delay <= 30 for delay in again)
    scheduler, events, runner = scheduler_on(clock, duplicates=1.0)
    events.rules.append(
        {"Name": "Poll", "Arn": RULE, "State": "ENABLED", "ScheduleExpression": "rate(1 minute)"}
    )
    scheduler.run_due(0.0)
    scheduler.run_due(60.0)
    assert [(trigger, delay) for _, trigger, delay in runner.deliveries] == [
        ("events", 0.0),
        ("events (again)", 0.0),
    ]
