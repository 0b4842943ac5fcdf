"""When an invocation asks again in-process, and when it must stop: pure rules, no AWS.

crhelper's polling rule fires once a minute. Answering only from those firings leaves the stack up to a
minute behind the copy, so each invocation that leaves work under way (the first one, after its rule is
put, and every rule-fired poll) keeps asking every `interval` seconds within a window, and returns without
an answer once the window ends. The window ends `NEXT_FIRING_MARGIN_SECONDS` before the rule's next firing
and `INVOCATION_MARGIN_SECONDS` before the invocation's own end: two invocations never wait on
the same request at once, and the invocation keeps time for its last ask and its answer.

A rule is taken to fire every `RULE_RATE_SECONDS` from when it was put (assumed). EventBridge promises no
second-level precision and a delay of a few seconds between a firing and the target running (EventBridge
user guide, "Setting a schedule pattern for scheduled rules"), hence the margins; their size is assumed.
"""

from __future__ import annotations

import math

# What an invocation keeps, after waiting, for its remaining calls and its answer.
INVOCATION_MARGIN_SECONDS = 60.0
# crhelper's rule: rate(1 minute).
RULE_RATE_SECONDS = 60.0
# An in-process window ends this long before the rule's next firing (EventBridge's timing is not exact), and
# its last ask is at its end: an answer comes at most this long plus the firing's delay after the work ended.
NEXT_FIRING_MARGIN_SECONDS = 10.0
# A last ask at the window's end is skipped when it would come less than this part of an interval after the
# one before (a call for little).
LAST_ASK_MIN_GAP = 0.5
# A poll starting this long before a firing's time is taken to be that firing, delivered early (assumed).
EARLY_FIRING_SECONDS = 5.0

# The polling_interval prop: seconds between two asks. At least 5, so that a copy costs at most 12
# GetClusterSnapshot calls per minute of waiting; at most one rule period (then each firing asks once).
POLLING_INTERVAL = "PollingInterval"
DEFAULT_INTERVAL_SECONDS = 5
MIN_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 60


class InvalidInterval(ValueError):
    """The polling interval is not a whole number of seconds within the accepted range."""


def parse_interval(value: object) -> int:
    """The polling interval in whole seconds (a template passes numbers as strings)."""
    try:
        seconds = int(str(value))
    except ValueError:
        raise InvalidInterval(
            f"{POLLING_INTERVAL} (the CopiedSnapshot polling_interval) must be a whole number of seconds, "
            f"got {value!r}"
        ) from None
    try:
        check_interval(seconds)
    except InvalidInterval as error:
        raise InvalidInterval(f"{POLLING_INTERVAL}: {error}") from None
    return seconds


def check_interval(seconds: float) -> None:
    """The one range check, at synth (the construct) and at deploy (the handler)."""
    if seconds != int(seconds) or not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
        raise InvalidInterval(
            f"polling interval of {seconds} seconds is out of range: must be a whole number of seconds from "
            f"{MIN_INTERVAL_SECONDS} (at most {int(RULE_RATE_SECONDS // MIN_INTERVAL_SECONDS)} "
            f"GetClusterSnapshot calls a minute) to {MAX_INTERVAL_SECONDS} (one ask per polling round)"
        )


def interval_or_default(value: object) -> int:
    """The interval to wait with, from what a request carries: the default when it carries none (a
    RestoredCluster, a poll set up by an earlier version) or one the properties check already refused."""
    if value is None:
        return DEFAULT_INTERVAL_SECONDS
    try:
        return parse_interval(value)
    except InvalidInterval:
        return DEFAULT_INTERVAL_SECONDS


def next_firing(rule_put_at: float, now: float) -> float:
    """When the rule fires next after an invocation started at `now` (a firing slightly early counts as
    the firing it was meant to be)."""
    rounds = math.floor((now - rule_put_at + EARLY_FIRING_SECONDS) / RULE_RATE_SECONDS) + 1
    return rule_put_at + max(1, rounds) * RULE_RATE_SECONDS


def window_end(rule_put_at: float | None, started: float, remaining_seconds: float) -> float:
    """When an invocation started at `started`, with `remaining_seconds` of Lambda time left then, stops
    asking. Without the rule's time (polls set up by earlier versions) the window is measured from the
    invocation's start, as if it ran exactly at a firing."""
    anchor = started if rule_put_at is None else rule_put_at
    before_next_firing = next_firing(anchor, started) - NEXT_FIRING_MARGIN_SECONDS
    before_own_end = started + remaining_seconds - INVOCATION_MARGIN_SECONDS
    return min(before_next_firing, before_own_end)


def next_ask(last_ask: float, interval: float, end: float) -> float | None:
    """When to ask again after asking at `last_ask`: every `interval`, and last at the window's end (so that
    the gap until the next firing's first ask is only the margin); None once the window is over."""
    if last_ask + interval <= end:
        return last_ask + interval
    return end if end - last_ask >= LAST_ASK_MIN_GAP * interval else None
