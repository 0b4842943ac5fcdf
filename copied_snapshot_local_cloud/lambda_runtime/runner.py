"""Lambda for the local cloud: registered functions run from their bundled code in warm worker processes.

Each invocation runs in a worker of its function, with the function's environment, handler and timeout, and
a worker runs one invocation at a time; idle workers are reused. A worker that times out is killed, as Lambda
ends a timed-out environment; a worker that dies mid-invocation ends that invocation as failed. Asynchronous
invocations (CloudFormation's, EventBridge's) that fail are tried twice more, a minute and then two minutes
later, as Lambda does (Lambda developer guide, "How Lambda handles errors and retries with asynchronous
invocation"). Output is the function's log: kept
per function and appended to its log file; a failed invocation's output is also shown on the console.

Times are the local cloud's clock (`copied_snapshot_local_cloud.clock`): invocations' start and end, retry
delays, and a handler's own `time.sleep`, which the worker sleeps on that clock (a simulated clock skips
it) and which counts in the invocation's duration and against its timeout. `Faults` switches on, seeded, what
a fault campaign needs: workers killed mid-invocation and invocations cut short by a Lambda timeout. Only
Python functions can run here: others are refused when registered.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from copied_snapshot_local_cloud.clock import Clock, ScaledClock

WORKER = Path(__file__).with_name("worker.py")
# Two more attempts, one minute and then two minutes apart (Lambda developer guide, "How Lambda handles errors
# and retries with asynchronous invocation").
ASYNC_RETRY_DELAYS = (60.0, 120.0)
OUTPUT_WAIT = 10.0  # wall-clock seconds a finished invocation's last output may take to reach the log
NODE_SOURCES = (".js", ".mjs", ".cjs")


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str]
    timeout: float
    memory_mb: int = 128
    log_group: str = ""
    runtime: str = ""  # Lambda's runtime name; empty: judged from the code

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class Faults:
    """What Lambda does to invocations on purpose, seeded so that a run can be repeated.

    `async_retries`: failed asynchronous invocations are tried twice more, as Lambda does.
    `worker_crash`: the probability that an invocation's worker is killed within its first `crash_within`
    wall-clock seconds (the invocation fails, as when the execution environment dies).
    `lambda_timeout`: the probability that an invocation gets only `timeout_within` seconds, or less, of its
    function's timeout (its context says so, so the handler's own timeout path runs).
    """

    async_retries: bool = True
    worker_crash: float = 0.0
    crash_within: float = 0.5
    lambda_timeout: float = 0.0
    timeout_within: tuple[float, float] = (1.0, 5.0)
    seed: int = 0


@dataclass
class Invocation:
    """One invocation as the runner saw it, for reports and benchmarks: it started at `started` on the local
    cloud's clock and ran for `duration` wall-clock seconds (the worker's own time), Lambda's run time."""

    function: str
    request_id: str
    trigger: str
    attempt: int
    started: float
    ended: float = 0.0
    outcome: str = "running"  # ok, error, timeout, crashed
    error: str = ""

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class _Async:
    """An asynchronous invocation across its attempts."""

    function: str
    event: Any
    trigger: str
    done: Future[None]


def function_name(name_or_arn: str) -> str:
    """`greeter` from `greeter` or from `arn:aws:lambda:...:function:greeter[:qualifier]`."""
    return name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]


class InvocationFailed(RuntimeError):
    pass


class UnsupportedRuntime(ValueError):
    """A function the local cloud cannot run (it runs Python only); the message names function and runtime."""


def runnable(function: Function) -> None:
    """Raises UnsupportedRuntime for a function that is not Python (its runtime, or its code, says so)."""
    module = function.handler.rpartition(".")[0]
    runtime = function.runtime
    python_code = (function.code_dir / f"{module}.py").exists()
    if (
        not runtime
        and not python_code
        and any((function.code_dir / f"{module}{suffix}").exists() for suffix in NODE_SOURCES)
    ):
        runtime = "nodejs"
    if runtime and not runtime.startswith("python"):
        raise UnsupportedRuntime(
            f"function {function.name} uses runtime {runtime} (handler {function.handler}): the local cloud "
            "runs Python functions only"
        )


class _Worker:
    def __init__(self, function: Function, runtime_dir: Path, log: _Log, anchor: tuple[float, float]) -> None:
        request_read, self._request_write = os.pipe()
        self._result_read, result_write = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - runs this package's worker with the function's code
            [
                sys.executable,
                "-I",
                "-S",
                "-u",
                str(WORKER),
                str(request_read),
                str(result_write),
                str(function.code_dir),
                str(runtime_dir),
                function.handler,
                json.dumps(anchor),
            ],
            pass_fds=(request_read, result_write),
            env=dict(function.environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        os.close(request_read)
        os.close(result_write)
        self._requests = os.fdopen(self._request_write, "w", encoding="utf-8")
        self._results = os.fdopen(self._result_read, encoding="utf-8")
        self._log = log
        self._lock = threading.Lock()
        self._current = ""
        self._output: list[str] = []
        self._reported = threading.Event()  # the current invocation's REPORT line is in the log
        self._started = 0.0
        self._frame = (0.0, time.time())  # (the invocation's time, the wall-clock time it was read at)
        self._closed = threading.Event()  # the worker's output ended
        self._stopped = threading.Event()  # told to end: a sleep of its invocation ends with it
        assert self.process.stdout is not None
        threading.Thread(target=self._follow, args=(self.process.stdout,), daemon=True).start()

    def _follow(self, stream: IO[str]) -> None:
        for line in stream:
            self._log.write(line)
            with self._lock:
                self._output.append(line)
                if self._current and line.startswith(f"REPORT RequestId: {self._current}"):
                    self._reported.set()
        self._closed.set()
        self._reported.set()

    def invoke(self, request: Mapping[str, Any], clock: Clock) -> dict[str, Any]:
        """The worker's answer once its output is all in the log; TimeoutError when none comes by the
        request's deadline, InvocationFailed when the worker dies (either way it is then killed).

        The invocation's own time (`elapsed`) runs at the wall clock's pace while it works and by the
        clock's seconds while it sleeps: each sleep it asks for is slept on `clock`, and it goes on from the
        anchor sent back. A sleep past the deadline is a timeout once the clock reaches the deadline."""
        with self._lock:
            self._current = str(request["requestId"])
            self._output = []
            self._reported.clear()
        self._started, real = request["clock"]
        self._frame = (self._started, real)
        deadline: float = request["deadline"]
        self._send(request)
        while True:
            ready, _, _ = select.select([self._results], [], [], max(0.0, deadline - self._now()))
            line = self._results.readline() if ready else ""
            if not line:
                self.kill()
                if not ready:
                    raise TimeoutError
                raise InvocationFailed(self._ended())
            message: dict[str, Any] = json.loads(line)
            if "sleep" not in message:
                break
            self._sleep(float(message["sleep"]), deadline, clock)
        # The worker prints its REPORT line before it answers, but another thread copies output to the log:
        # the answer must not overtake the invocation's last lines.
        self._reported.wait(OUTPUT_WAIT)
        return message

    def _now(self) -> float:
        """The invocation's own time: its anchor, plus the wall clock's seconds since."""
        simulated, real = self._frame
        return simulated + (time.time() - real)

    def elapsed(self) -> float:
        """Seconds of the current (or last) invocation on its own time, sleeps included (as Lambda bills)."""
        return self._now() - self._started

    def _sleep(self, seconds: float, deadline: float, clock: Clock) -> None:
        now = self._now()
        timed_out = now + seconds >= deadline
        if clock.wait(self._stopped, deadline - now if timed_out else seconds):
            self.kill()
            raise InvocationFailed(self._ended())
        if timed_out:
            self._frame = (deadline, time.time())
            self.kill()
            raise TimeoutError
        self._frame = (now + seconds, time.time())
        self._send({"clock": list(self._frame)})

    def _send(self, message: Mapping[str, Any]) -> None:
        try:
            self._requests.write(json.dumps(message) + "\n")
            self._requests.flush()
        except OSError:  # it died before reading it (an idle worker may die between check and use)
            self.kill()
            raise InvocationFailed(self._ended()) from None

    def _ended(self) -> str:
        """Why the invocation ended without an answer."""
        if self._stopped.is_set():
            return "the local cloud stopped during the invocation"
        return f"the worker process exited during the invocation (exit status {self.process.returncode})"

    def output(self) -> str:
        """What the worker printed during the current invocation so far."""
        with self._lock:
            return "".join(self._output)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Ends the worker from outside its invocation: the invocation (its sleeps too) fails at once, and the
        invoking thread cleans up as for a worker that died."""
        self._stopped.set()
        if self.alive():
            self.process.kill()

    def kill(self) -> None:
        """Ends the worker; its output up to then is in the log when this returns."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)
        self._closed.wait(OUTPUT_WAIT)
        with contextlib.suppress(OSError):  # a request still buffered for a worker that is gone
            self._requests.close()
        self._results.close()


class _Log:
    """A function's log: lines kept in memory and appended to a file, like a CloudWatch log group."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._lines: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line if line.endswith("\n") else line + "\n")

    def text(self) -> str:
        with self._lock:
            return "".join(line if line.endswith("\n") else line + "\n" for line in self._lines)


@dataclass
class _Registered:
    function: Function
    log: _Log
    idle: list[_Worker] = field(default_factory=list)
    busy: set[_Worker] = field(default_factory=set)


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class LambdaRunner:
    def __init__(
        self,
        logs_dir: Path,
        runtime_dir: Path,
        *,
        max_concurrency: int = 16,
        clock: Clock | None = None,
        faults: Faults | None = None,
        console: Callable[[str], None] = _stderr,
    ) -> None:
        self._logs_dir = logs_dir
        self._runtime_dir = runtime_dir
        self.clock: Clock = clock or ScaledClock()
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)
        self._console = console
        self._lock = threading.Lock()
        self._functions: dict[str, _Registered] = {}
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lambda-async")
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []  # told of every finished invocation
        self.starting: list[Callable[[], None]] = []  # told when an invocation starts

    def register(self, function: Function) -> None:
        """Adds or replaces a function; warm workers of an older version are ended. UnsupportedRuntime for
        a function that is not Python."""
        runnable(function)
        log_file = self._logs_dir / (function.log_group_name.strip("/").replace("/", "_") + ".log")
        with self._lock:
            old = self._functions.get(function.name)
            self._functions[function.name] = _Registered(function, old.log if old else _Log(log_file))
        if old:
            self._end(old)

    def unregister(self, name: str) -> None:
        with self._lock:
            registered = self._functions.pop(name, None)
        if registered:
            self._end(registered)

    def function(self, name_or_arn: str) -> Function | None:
        with self._lock:
            registered = self._functions.get(function_name(name_or_arn))
            return registered.function if registered else None

    def running(self) -> int:
        """Invocations in flight, across functions."""
        with self._lock:
            return sum(len(registered.busy) for registered in self._functions.values())

    def functions(self) -> list[Function]:
        """The functions registered, for saving them with the services' state."""
        with self._lock:
            return [registered.function for registered in self._functions.values()]

    def log(self, name: str) -> str:
        with self._lock:
            registered = self._functions.get(name)
        return registered.log.text() if registered else ""

    def invoke(self, name_or_arn: str, event: Any, *, trigger: str = "direct", attempt: int = 1) -> Any:
        """A synchronous invocation: the handler's return value, or InvocationFailed."""
        with self.clock.busy():
            return self._invoke(name_or_arn, event, trigger, attempt)

    def _invoke(self, name_or_arn: str, event: Any, trigger: str, attempt: int) -> Any:
        registered = self._registered(name_or_arn)
        function = registered.function
        with self._lock:
            crash = self._random.random() < self.faults.worker_crash
            crash_after = self._random.uniform(0.0, self.faults.crash_within)
            cut = self._random.random() < self.faults.lambda_timeout
            timeout = min(function.timeout, self._random.uniform(*self.faults.timeout_within))
        timeout = timeout if cut else function.timeout
        simulated, real = self.clock.anchor()
        record = Invocation(function.name, str(uuid.uuid4()), trigger, attempt, simulated)
        with self._lock:
            self.invocations.append(record)
            worker = registered.idle.pop() if registered.idle else None
        if worker is not None and not worker.alive():
            worker.kill()
            worker = None
        if worker is None:
            worker = _Worker(function, self._runtime_dir, registered.log, (simulated, real))
        with self._lock:
            registered.busy.add(worker)
        for told in list(self.starting):
            told()
        request = {
            "event": event,
            "functionName": function.name,
            "functionArn": function.arn,
            "memoryMb": function.memory_mb,
            "requestId": record.request_id,
            "logGroup": function.log_group_name,
            "logStream": f"local/{record.request_id}",
            "deadline": simulated + timeout,
            "clock": [simulated, real],
        }
        killer = threading.Timer(crash_after, worker.process.kill) if crash else None
        if killer:
            killer.start()
        try:
            answer = worker.invoke(request, self.clock)
        except TimeoutError:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock.now()))
            registered.log.write(f"{stamp} {record.request_id} Task timed out after {timeout:.2f} seconds")
            self._finish(registered, worker, record, outcome="timeout", error="Task timed out")
            raise InvocationFailed(f"{function.name} timed out after {timeout:g} seconds") from None
        except InvocationFailed as error:
            self._finish(registered, worker, record, outcome="crashed", error=str(error))
            raise InvocationFailed(f"{function.name} failed: {error}") from None
        finally:
            if killer:
                killer.cancel()
        if not answer["ok"]:
            reason = f"{answer['errorType']}: {answer['errorMessage']}"
            self._finish(registered, worker, record, outcome="error", error=reason)
            raise InvocationFailed(f"{function.name} failed: {reason}")
        self._finish(registered, worker, record, outcome="ok", error="")
        return answer["value"]

    def invoke_async(self, name_or_arn: str, event: Any, *, trigger: str, delay: float = 0.0) -> Future[None]:
        """Queues an invocation as Lambda's Event type does (after `delay` seconds); failures are tried twice
        more unless `Faults.async_retries` is off. The future ends with the last attempt. Queued work counts
        as running on the clock; a delay is a wait on it, which holds no worker thread."""
        self._registered(name_or_arn)
        done: Future[None] = Future()
        self._attempt(_Async(name_or_arn, event, trigger, done), 1, delay)
        return done

    def _attempt(self, job: _Async, attempt: int, delay: float) -> None:
        release = self.clock.hold()
        if delay > 0:
            threading.Thread(target=self._later, args=(job, attempt, delay, release), daemon=True).start()
            return
        try:
            self._pool.submit(self._run_attempt, job, attempt, release)
        except RuntimeError:  # shut down
            release()
            job.done.set_result(None)

    def _later(self, job: _Async, attempt: int, delay: float, release: Callable[[], None]) -> None:
        with self.clock.busy():
            release()
            self.clock.sleep(delay)
            self._attempt(job, attempt, 0.0)

    def _run_attempt(self, job: _Async, attempt: int, release: Callable[[], None]) -> None:
        with self.clock.busy():
            release()
            attempts = 1 + (len(ASYNC_RETRY_DELAYS) if self.faults.async_retries else 0)
            try:
                self._invoke(job.function, job.event, job.trigger, attempt)
            except InvocationFailed:
                if attempt < attempts and self.function(job.function) is not None:
                    self._attempt(job, attempt + 1, ASYNC_RETRY_DELAYS[attempt - 1])
                    return
            except KeyError:
                pass  # the function was deleted meanwhile
            job.done.set_result(None)

    def shutdown(self) -> None:
        """Nothing runs in a stopped cloud: queued invocations are dropped and running ones fail at once, so
        that no thread outlives the stop (the interpreter waits for the invoking threads before it exits)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            registered = list(self._functions.values())
            busy = [worker for entry in registered for worker in entry.busy]
        for worker in busy:
            worker.stop()
        for entry in registered:
            self._end(entry)

    def _registered(self, name_or_arn: str) -> _Registered:
        name = function_name(name_or_arn)
        with self._lock:
            registered = self._functions.get(name)
        if registered is None:
            raise KeyError(f"Function not found: {name_or_arn}")
        return registered

    def _finish(
        self,
        registered: _Registered,
        worker: _Worker,
        record: Invocation,
        *,
        outcome: str,
        error: str,
    ) -> None:
        record.ended = record.started + worker.elapsed()
        record.outcome, record.error = outcome, error
        with self._lock:
            registered.busy.discard(worker)
            current = self._functions.get(registered.function.name)
            keep = worker.alive() and current is registered
            if keep:
                registered.idle.append(worker)
        if not keep:
            worker.kill()
        if outcome != "ok":
            self._show(record, worker.output())
        for listener in list(self.listeners):
            listener(record)

    def _show(self, record: Invocation, output: str) -> None:
        lines = [f"Lambda {record.function} {record.request_id} ({record.trigger}, attempt {record.attempt}) "
                 f"{record.outcome}: {record.error}"]  # fmt: skip
        lines += [f"  | {line}" for line in output.splitlines()]
        self._console("\n".join(lines))

    def _end(self, registered: _Registered) -> None:
        with self._lock:
            workers = [*registered.idle]
            registered.idle.clear()
        for worker in workers:
            worker.kill()
