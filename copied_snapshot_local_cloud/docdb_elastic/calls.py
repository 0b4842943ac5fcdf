"""The call log: every request the service answered, for tests, benchmarks and the demo."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

OK = "OK"


@dataclass(frozen=True)
class Call:
    operation: str
    arguments: dict[str, Any]  # sensitive members hidden
    timestamp: float
    outcome: str  # OK or the error code answered
    status: int
    account: str | None
    region: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def append(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def all(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def of(self, operation: str) -> list[Call]:
        return [call for call in self.all() if call.operation == operation]

    def counts(self) -> dict[str, int]:
        """Calls per operation, for benchmarks and the local cloud's summary."""
        counted: dict[str, int] = {}
        for call in self.all():
            counted[call.operation] = counted.get(call.operation, 0) + 1
        return counted

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
