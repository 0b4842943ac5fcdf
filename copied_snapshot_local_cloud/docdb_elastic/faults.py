"""Fault injection: throttling, injected errors, latency, and copies and restores that fail or never finish.

Every random choice comes from one generator seeded by the caller, so a run with the same seed and the same
sequence of calls meets the same faults. Token buckets and durations read the emulator's clock; with a
`ManualClock` they are exact as well.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from copied_snapshot_local_cloud.docdb_elastic import errors
from copied_snapshot_local_cloud.docdb_elastic.service_model import service_model

ANY = "*"


@dataclass
class TokenBucket:
    """`rate` calls a second on average, `burst` at once; an empty bucket tells how long until a token."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class ErrorRule:
    operation: str
    code: str
    remaining: int | None  # None: no count, the probability decides
    probability: float

    def applies(self, operation: str) -> bool:
        return self.operation in (ANY, operation) and (self.remaining is None or self.remaining > 0)


COPY = "copy"
RESTORE = "restore"


@dataclass
class OutcomeRule:
    """What happens to copies (or restores) whose new snapshot (or cluster) name matches `name` (a
    case-insensitive glob)."""

    name: str
    final_status: str | None  # None: the work never finishes
    remaining: int | None
    late: float = 0.0  # seconds the work takes beyond its usual duration


@dataclass(frozen=True)
class Fate:
    final_status: str = "ACTIVE"
    finishes: bool = True
    late: float = 0.0  # seconds beyond the usual duration


@dataclass(frozen=True)
class Verdict:
    """What the faults decided for one call: a delay first, then an error or the real answer."""

    delay: float = 0.0
    error: errors.ServiceError | None = None


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._buckets: dict[str, TokenBucket] = {}
        self._errors: list[ErrorRule] = []
        self._latency: dict[str, float] = {}
        self._outcomes: dict[str, list[OutcomeRule]] = {COPY: [], RESTORE: []}

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def throttle(self, operation: str, *, rate: float, burst: int = 1, now: float = 0.0) -> None:
        """Allow `operation` (or `*`, every operation together) `rate` calls a second, `burst` at once."""
        _check_operation(operation)
        if rate <= 0 or burst < 1:
            raise ValueError(f"throttle needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        with self._lock:
            self._buckets[operation] = TokenBucket(rate, float(burst), float(burst), now)

    def fail(
        self,
        operation: str = ANY,
        *,
        error: str = "InternalServerException",
        times: int | None = None,
        probability: float = 1.0,
    ) -> None:
        """Answer `operation` with `error`: the next `times` calls, or each call with `probability`."""
        _check_operation(operation)
        if error not in errors.INJECTABLE:
            raise ValueError(f"cannot inject {error!r}; choose one of {sorted(errors.INJECTABLE)}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if not 0 < probability <= 1:
            raise ValueError(f"probability must be in (0, 1], got {probability}")
        with self._lock:
            self._errors.append(ErrorRule(operation, error, times, probability))

    def slow(self, operation: str = ANY, *, seconds: float) -> None:
        """Add `seconds` of latency to every call of `operation`."""
        _check_operation(operation)
        if seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        with self._lock:
            self._latency[operation] = seconds

    def end_copies(self, status: str, *, name: str = ANY, times: int | None = None) -> None:
        """Copies to a matching name end in `status` (INACCESSIBLE_ENCRYPTION_CREDS, ...), not ACTIVE."""
        self._add_outcome(COPY, OutcomeRule(name, _known_status(status), times))

    def stall_copies(
        self, *, name: str = ANY, times: int | None = None, seconds: float | None = None
    ) -> None:
        """Copies to a matching name stay in their in-progress status for ever, or `seconds` longer than
        usual and then become ACTIVE."""
        self._add_outcome(COPY, _stall(name, times, seconds))

    def end_restores(self, status: str, *, name: str = ANY, times: int | None = None) -> None:
        """Clusters restored under a matching name end in `status` (INVALID_SUBNET_ID, ...), not ACTIVE."""
        self._add_outcome(RESTORE, OutcomeRule(name, _known_status(status), times))

    def stall_restores(
        self, *, name: str = ANY, times: int | None = None, seconds: float | None = None
    ) -> None:
        """Clusters restored under a matching name stay CREATING for ever, or `seconds` longer than usual
        and then become ACTIVE."""
        self._add_outcome(RESTORE, _stall(name, times, seconds))

    def _add_outcome(self, work: str, rule: OutcomeRule) -> None:
        if rule.remaining is not None and rule.remaining < 1:
            raise ValueError(f"times must be at least 1, got {rule.remaining}")
        with self._lock:
            self._outcomes[work].append(rule)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._errors.clear()
            self._latency.clear()
            for rules in self._outcomes.values():
                rules.clear()

    def check(self, operation: str, now: float) -> Verdict:
        """Decide one call's faults, in the order the service meets them: latency, throttling, errors."""
        with self._lock:
            delay = self._latency.get(operation, self._latency.get(ANY, 0.0))
            for key in (ANY, operation):
                bucket = self._buckets.get(key)
                wait = bucket.take(now) if bucket else 0.0
                if wait:
                    return Verdict(delay, errors.throttled(operation, wait))
            for rule in self._errors:
                if rule.applies(operation) and self._random.random() < rule.probability:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return Verdict(delay, errors.injected(rule.code, operation))
            return Verdict(delay)

    def copy_fate(self, target_name: str) -> Fate:
        return self._fate(COPY, target_name)

    def restore_fate(self, cluster_name: str) -> Fate:
        return self._fate(RESTORE, cluster_name)

    def _fate(self, work: str, name: str) -> Fate:
        """How the work on `name` ends: the first matching rule with uses left decides (and uses one)."""
        with self._lock:
            for rule in self._outcomes[work]:
                if rule.remaining == 0 or not fnmatch.fnmatchcase(name.lower(), rule.name.lower()):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                if rule.final_status is None:
                    return Fate(finishes=False)
                return Fate(final_status=rule.final_status, late=rule.late)
            return Fate()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "throttle": {name: {"rate": b.rate, "burst": b.burst} for name, b in self._buckets.items()},
                "errors": [vars(rule).copy() for rule in self._errors],
                "latency": dict(self._latency),
                "copies": [vars(rule).copy() for rule in self._outcomes[COPY]],
                "restores": [vars(rule).copy() for rule in self._outcomes[RESTORE]],
            }

    def apply(self, spec: Mapping[str, Any], now: float = 0.0) -> None:
        """Add one fault described as data (the CLI's and the control API's format), e.g.
        `{"kind": "fail", "operation": "GetClusterSnapshot", "error": "InternalServerException", "times": 2}`.
        Kinds: throttle (operation, rate, burst), fail (operation, error, times, probability),
        latency (operation, seconds), copy-status and restore-status (status, name, times), copy-stall and
        restore-stall (name, times, seconds: how much longer; default for ever)."""
        options = {key: value for key, value in spec.items() if key != "kind"}
        kind = spec.get("kind")
        try:
            if kind == "throttle":
                self.throttle(options.pop("operation", ANY), now=now, **options)
            elif kind == "fail":
                self.fail(**options)
            elif kind == "latency":
                self.slow(**options)
            elif kind == "copy-status":
                self.end_copies(options.pop("status"), **options)
            elif kind == "copy-stall":
                self.stall_copies(**options)
            elif kind == "restore-status":
                self.end_restores(options.pop("status"), **options)
            elif kind == "restore-stall":
                self.stall_restores(**options)
            else:
                raise ValueError(
                    f"unknown fault kind {kind!r}; use throttle, fail, latency, copy-status, copy-stall, "
                    "restore-status or restore-stall"
                )
        except (TypeError, KeyError) as error:
            raise ValueError(f"fault {dict(spec)} is incomplete or has unknown options: {error}") from error


def _stall(name: str, times: int | None, seconds: float | None) -> OutcomeRule:
    if seconds is None:
        return OutcomeRule(name, None, times)
    if seconds <= 0:
        raise ValueError(f"a stall lasts more than 0 seconds, got {seconds}")
    return OutcomeRule(name, "ACTIVE", times, late=seconds)


def _known_status(status: str) -> str:
    """A status of the model's `Status` enum (clusters and snapshots share it); ValueError for another."""
    allowed = service_model().shape_for("Status").metadata["enum"]
    if status not in allowed:
        raise ValueError(f"unknown status {status!r}; the model's statuses are {allowed}")
    return status


def _check_operation(operation: str) -> None:
    if operation != ANY and operation not in service_model().operation_names:
        raise ValueError(f"unknown operation {operation!r}; use a docdb-elastic operation name or '*'")
