"""The local cloud's one clock: every wait of every part is in its seconds.

Two clocks keep the same promise (`now`, `sleep`, `wait` in simulated seconds):

- `ScaledClock`: simulated time runs `scale` times faster than the wall clock (60: a minute a second).
- `SimulatedClock`: time runs `scale` times the wall clock while something is running, and when nothing is
  (no invocation in flight, no deployment step working: every actor is waiting on the clock) it jumps to
  the earliest deadline any of them waits for, so a 30-minute copy takes as long as its invocations do and
  tests read exact simulated seconds.

Parts that work mark themselves as running: a thread with `with clock.busy():` (its waits on the clock do
not count as running), or work handed from one thread to another with `release = clock.hold()`. Lambda
workers see the same time through `anchor()`: a simulated instant and the wall-clock instant it was read
at, from which they run at the wall clock's pace (a scale speeds up waiting, not work); a worker's sleeps
are slept on the clock by the runner's thread, which counts as waiting, so the clock may jump then.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from copied_snapshot_local_cloud.serving import wait_awake


class Clock(Protocol):
    scale: float

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Waits `seconds` of simulated time."""
        ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Waits until `event` is set (True) or `timeout` simulated seconds have passed (False)."""
        ...

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Marks the calling thread as running until the block ends (its clock waits excepted)."""
        ...

    def hold(self) -> Callable[[], None]:
        """Marks something as running until the answered function is called (once is enough)."""
        ...

    def anchor(self) -> tuple[float, float]:
        """(simulated now, wall-clock now) read together: a worker process's time starts from them."""
        ...


class ScaledClock:
    """Simulated time that starts at the wall clock's time (or `start`) and runs `scale` times faster."""

    def __init__(self, scale: float = 1.0, *, start: float | None = None) -> None:
        """`start`: the simulated time now (default: the wall clock's), e.g. where a saved run's clock was."""
        if scale <= 0:
            raise ValueError(f"a clock's scale must be positive, got {scale}")
        self.scale = scale
        self._origin = time.time()
        self._start = self._origin if start is None else start

    def now(self) -> float:
        return self._at(time.time())

    def _at(self, real: float) -> float:
        return self._start + (real - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.scale)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        # Awake to signals: a command's main thread waits here for a whole deployment.
        return wait_awake(event, None if timeout is None else max(0.0, timeout) / self.scale)

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def hold(self) -> Callable[[], None]:
        return lambda: None

    def anchor(self) -> tuple[float, float]:
        real = time.time()
        return self._at(real), real


@dataclass
class _Waiter:
    deadline: float | None
    event: threading.Event | None


class SimulatedClock:
    """Runs at `scale` times the wall clock while anything runs; jumps over the time when nothing does.

    Nothing runs when no thread is inside `busy()` outside a clock wait, no `hold()` is unreleased, and no
    waiter's event is set (a waiter woken by its event is about to run). That state must last `settle`
    wall-clock seconds, unchanged, before the clock jumps: it gives a woken thread time to mark itself.
    """

    def __init__(self, *, scale: float = 1.0, start: float | None = None, settle: float = 0.02) -> None:
        if scale <= 0:
            raise ValueError(f"a clock's scale must be positive, got {scale}")
        self.scale = scale
        self._settle = settle
        self._start = time.time() if start is None else start
        self._real_origin = time.time()
        self._skipped = 0.0
        self._lock = threading.RLock()
        self._running = 0
        self._depth = threading.local()
        self._waiters: dict[int, _Waiter] = {}
        self._ids = itertools.count()
        self._generation = 0
        self._stopped = threading.Event()
        self._advancer = threading.Thread(target=self._advance, name="local-clock", daemon=True)
        self._advancer.start()
        self.jumps: list[tuple[float, float]] = []  # (from, to), for tests and reports

    # -- reading ---------------------------------------------------------------------------------------------

    def now(self) -> float:
        with self._lock:
            return self._at(time.time())

    def _at(self, real: float) -> float:
        return self._start + self._skipped + (real - self._real_origin) * self.scale

    def anchor(self) -> tuple[float, float]:
        with self._lock:
            real = time.time()
            return self._at(real), real

    # -- running ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        self._change(+1)
        self._depth.value = getattr(self._depth, "value", 0) + 1
        try:
            yield
        finally:
            self._depth.value -= 1
            self._change(-1)

    def hold(self) -> Callable[[], None]:
        self._change(+1)
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                self._change(-1)

        return release

    def _change(self, running: int) -> None:
        with self._lock:
            self._running += running
            self._generation += 1

    # -- waiting ---------------------------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        self.wait(None, seconds)

    def wait(self, event: threading.Event | None, timeout: float | None) -> bool:
        depth = getattr(self._depth, "value", 0)
        with self._lock:
            deadline = None if timeout is None else self.now() + max(0.0, timeout)
            key = next(self._ids)
            self._waiters[key] = _Waiter(deadline, event)
            self._running -= depth
            self._generation += 1
        try:
            while True:
                if event is not None and event.is_set():
                    return True
                remaining = None if deadline is None else deadline - self.now()
                if remaining is not None and remaining <= 0:
                    return False
                slice_ = self._settle if remaining is None else min(self._settle, remaining / self.scale)
                if event is not None:
                    event.wait(slice_)
                else:
                    time.sleep(slice_)
        finally:
            with self._lock:
                del self._waiters[key]
                self._running += depth
                self._generation += 1

    def stop(self) -> None:
        self._stopped.set()

    def _advance(self) -> None:
        """Jumps to the earliest deadline once nothing has run for a settled moment."""
        seen = -1
        while not self._stopped.wait(self._settle):
            with self._lock:
                if not self._idle():
                    seen = -1
                    continue
                if seen != self._generation:
                    seen = self._generation
                    continue
                deadlines = [
                    waiter.deadline for waiter in self._waiters.values() if waiter.deadline is not None
                ]
                if not deadlines:
                    continue
                now = self.now()
                target = min(deadlines)
                if target > now:
                    self._skipped += target - now
                    self._generation += 1
                    self.jumps.append((now, target))

    def _idle(self) -> bool:
        return self._running <= 0 and not any(
            waiter.event is not None and waiter.event.is_set() for waiter in self._waiters.values()
        )
