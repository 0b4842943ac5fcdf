"""EventBridge's scheduler for the local cloud: fires enabled `rate(...)` rules at their Lambda targets.

Rules and targets live in moto, where the handler's EventBridge calls put them; this loop plays the part of
the EventBridge service that moto does not run. A target is invoked only when the function's resource policy
(also in moto) lets `events.amazonaws.com` invoke it from that rule, as in AWS.

Times are the local cloud's clock: a rule first seen at `start` fires at `start + k * period`, never
drifting (a late round fires once and keeps the grid). A rate rule's period starts when the rule is created
(EventBridge User Guide, "Creating a rule that runs on a schedule"), and moto keeps no creation time: rules
are looked for every `WHILE_RUNNING_SECONDS` while an invocation is in flight (handlers put their rules in
one, and may wait in-process for minutes), so a rule is seen within that of its creation; also after every
Lambda invocation, when the next one is due, and every `tick` wall-clock seconds (None: only then, which lets
a simulated clock skip to the next firing). The same event can reach a function more than once
(Lambda developer guide, "How Lambda handles errors and retries with asynchronous invocation"; EventBridge's
own at-least-once delivery is assumed): `duplicates` is the seeded probability that a target is invoked
twice, the second within `duplicate_delay` seconds (0: at the same time, concurrently).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from copied_snapshot_local_cloud.clock import Clock
from copied_snapshot_local_cloud.lambda_runtime.runner import LambdaRunner

logger = logging.getLogger(__name__)

# How often rules are looked for while an invocation is in flight, in the clock's seconds: a rule's firings
# may come this much later than its creation's grid, well within the few seconds' slack EventBridge's own
# timing needs from a handler; shorter would make a simulated clock stop more often.
WHILE_RUNNING_SECONDS = 2.0

EVENTS_PRINCIPAL = "events.amazonaws.com"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(...)` schedule in seconds; None for cron schedules and anything else."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match[1]) * _UNIT_SECONDS[match[2].rstrip("s")]


def allowed_by(policy: dict[str, Any], principal: str, source_arn: str, source_account: str) -> bool:
    """Whether a Lambda resource policy lets `principal` invoke the function from `source_arn`."""
    for statement in policy.get("Statement", []):
        service = statement.get("Principal", {})
        service = service.get("Service") if isinstance(service, dict) else service
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        if statement.get("Effect") != "Allow" or service != principal:
            continue
        if not any(action in ("lambda:InvokeFunction", "lambda:*") for action in actions):
            continue
        condition = statement.get("Condition", {})
        arn_pattern = condition.get("ArnLike", {}).get("AWS:SourceArn") or condition.get("ArnEquals", {}).get(
            "AWS:SourceArn"
        )
        account = condition.get("StringEquals", {}).get("AWS:SourceAccount")
        if arn_pattern and not fnmatch.fnmatchcase(source_arn, arn_pattern):
            continue
        if account and account != source_account:
            continue
        return True
    return False


@dataclass
class _Schedule:
    period: float
    start: float
    fired: int = 0  # periods since start that have fired

    @property
    def next_fire(self) -> float:
        return self.start + (self.fired + 1) * self.period

    def catch_up(self, now: float) -> None:
        """After firing at `now`: the next firing is the first point of the grid after it."""
        self.fired = max(self.fired + 1, math.floor((now - self.start) / self.period))


class Scheduler:
    def __init__(
        self,
        clients: Callable[[str, str, str], Any],
        runner: LambdaRunner,
        places: Callable[[], Iterable[tuple[str, str]]],
        *,
        clock: Clock | None = None,
        tick: float | None = 0.1,
        duplicates: float = 0.0,
        duplicate_delay: float = 0.0,
        seed: int = 0,
    ) -> None:
        self._clients = clients
        self._runner = runner
        self._places = places  # (region, account) pairs whose rules are scanned
        self.clock: Clock = clock or runner.clock
        self._tick = tick
        self.duplicates = duplicates
        self.duplicate_delay = duplicate_delay
        self._random = random.Random(seed)
        self._schedules: dict[str, _Schedule] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="local-eventbridge", daemon=True)
        runner.listeners.append(lambda invocation: self._wake.set())
        runner.starting.append(self._wake.set)  # from now on, rules are looked for while it runs

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            due: float | None = None
            with self.clock.busy():
                now = self.clock.now()
                try:
                    due = self.run_due(now)
                except Exception:
                    logger.exception("the local EventBridge scheduler failed a round; it goes on")
            wait = None if due is None else due - now
            if self._runner.running():
                wait = WHILE_RUNNING_SECONDS if wait is None else min(wait, WHILE_RUNNING_SECONDS)
            if self._tick is not None:
                tick = self._tick * self.clock.scale
                wait = tick if wait is None else min(wait, tick)
            self.clock.wait(self._wake, wait)

    def run_due(self, now: float) -> float | None:
        """Fires every rule whose time has come (rules seen for the first time start their period now);
        answers when the next one is due."""
        seen: set[str] = set()
        for region, account in list(self._places()):
            events = self._clients("events", region, account)
            for page in events.get_paginator("list_rules").paginate():
                for rule in page["Rules"]:
                    period = rate_seconds(rule.get("ScheduleExpression", "") or "")
                    if rule.get("State") != "ENABLED" or period is None:
                        continue
                    seen.add(rule["Arn"])
                    schedule = self._schedules.setdefault(rule["Arn"], _Schedule(period, now))
                    if now >= schedule.next_fire:
                        schedule.catch_up(now)
                        self._fire(region, rule, now)
        for arn in set(self._schedules) - seen:
            del self._schedules[arn]
        return min((schedule.next_fire for schedule in self._schedules.values()), default=None)

    def _fire(self, region: str, rule: dict[str, Any], now: float) -> None:
        account = rule["Arn"].split(":")[4]
        events = self._clients("events", region, account)
        try:
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        except events.exceptions.ResourceNotFoundException:
            return  # deleted since it was listed (its handler answered): the round goes on to the others
        for target in targets:
            function = target["Arn"]
            if ":lambda:" not in function:
                continue
            if not self._permitted(region, function, rule["Arn"], account):
                logger.warning(
                    "rule %s may not invoke %s: no resource policy allows it", rule["Arn"], function
                )
                continue
            event = (
                json.loads(target["Input"]) if target.get("Input") else _scheduled_event(rule, region, now)
            )
            try:
                self._runner.invoke_async(function, event, trigger="events")
            except KeyError:
                logger.warning("rule %s targets %s, which does not exist", rule["Arn"], function)
                continue
            if self._random.random() < self.duplicates:
                delay = self._random.uniform(0.0, self.duplicate_delay)
                self._runner.invoke_async(function, event, trigger="events (again)", delay=delay)

    def _permitted(self, region: str, function: str, rule_arn: str, account: str) -> bool:
        lambdas = self._clients("lambda", region, account)
        try:
            policy = json.loads(lambdas.get_policy(FunctionName=function)["Policy"])
        except lambdas.exceptions.ResourceNotFoundException:
            return False
        return allowed_by(policy, EVENTS_PRINCIPAL, rule_arn, account)


def _scheduled_event(rule: dict[str, Any], region: str, now: float) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule["Arn"].split(":")[4],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": region,
        "resources": [rule["Arn"]],
        "detail": {},
    }
