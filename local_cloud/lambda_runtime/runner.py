"""Lambda for the local cloud: registered functions run from their bundled code in warm worker processes.

Each invocation runs in a worker of its function, with the function's environment, handler and timeout, and
a worker runs one invocation at a time; idle workers are reused. A worker that times out is killed, as Lambda
ends a timed-out environment. Asynchronous invocations (CloudFormation's, EventBridge's) that fail are tried
twice more, as Lambda does. Output is the function's log: kept per function and appended to its log file.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

WORKER = Path(__file__).with_name("worker.py")
ASYNC_ATTEMPTS = 3  # the first try and Lambda's two retries of a failed asynchronous invocation
ASYNC_RETRY_DELAYS = (1.0, 2.0)


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

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"


@dataclass
class Invocation:
    """One invocation as the runner saw it, for reports and benchmarks."""

    function: str
    request_id: str
    trigger: str
    attempt: int
    started: float
    ended: float = 0.0
    outcome: str = "running"  # ok, error, timeout
    error: str = ""

    @property
    def duration(self) -> float:
        return self.ended - self.started


def function_name(name_or_arn: str) -> str:
    """`greeter` from `greeter` or from `arn:aws:lambda:...:function:greeter[:qualifier]`."""
    return name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]


class InvocationFailed(RuntimeError):
    pass


class _Worker:
    def __init__(self, function: Function, runtime_dir: Path, log: _Log) -> None:
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
        assert self.process.stdout is not None
        threading.Thread(target=log.follow, args=(self.process.stdout,), daemon=True).start()

    def invoke(self, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """The worker's answer; TimeoutError when none comes within `timeout` (the worker is then killed)."""
        self._requests.write(json.dumps(request) + "\n")
        self._requests.flush()
        ready, _, _ = select.select([self._results], [], [], timeout)
        line = self._results.readline() if ready else ""
        if not line:
            self.kill()
            if not ready:
                raise TimeoutError
            raise InvocationFailed("the worker process exited during the invocation")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)
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

    def follow(self, stream: IO[str]) -> None:
        for line in stream:
            self.write(line)

    def text(self) -> str:
        with self._lock:
            return "".join(line if line.endswith("\n") else line + "\n" for line in self._lines)


@dataclass
class _Registered:
    function: Function
    log: _Log
    idle: list[_Worker] = field(default_factory=list)
    busy: set[_Worker] = field(default_factory=set)


class LambdaRunner:
    def __init__(self, logs_dir: Path, runtime_dir: Path, *, max_concurrency: int = 16) -> None:
        self._logs_dir = logs_dir
        self._runtime_dir = runtime_dir
        self._lock = threading.Lock()
        self._functions: dict[str, _Registered] = {}
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lambda-async")
        self.invocations: list[Invocation] = []

    def register(self, function: Function) -> None:
        """Adds or replaces a function; warm workers of an older version are ended."""
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

    def log(self, name: str) -> str:
        with self._lock:
            registered = self._functions.get(name)
        return registered.log.text() if registered else ""

    def invoke(self, name_or_arn: str, event: Any, *, trigger: str = "direct", attempt: int = 1) -> Any:
        """A synchronous invocation: the handler's return value, or InvocationFailed."""
        registered = self._registered(name_or_arn)
        function = registered.function
        record = Invocation(function.name, str(uuid.uuid4()), trigger, attempt, time.time())
        with self._lock:
            self.invocations.append(record)
            worker = registered.idle.pop() if registered.idle else None
        if worker is None or not worker.alive():
            worker = _Worker(function, self._runtime_dir, registered.log)
        with self._lock:
            registered.busy.add(worker)
        request = {
            "event": event,
            "functionName": function.name,
            "functionArn": function.arn,
            "memoryMb": function.memory_mb,
            "requestId": record.request_id,
            "logGroup": function.log_group_name,
            "logStream": f"local/{record.request_id}",
            "deadline": record.started + function.timeout,
        }
        try:
            answer = worker.invoke(request, function.timeout)
        except TimeoutError:
            registered.log.write(
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {record.request_id} "
                f"Task timed out after {function.timeout:.2f} seconds"
            )
            self._finish(registered, worker, record, "timeout", "Task timed out")
            raise InvocationFailed(
                f"{function.name} timed out after {function.timeout:.0f} seconds"
            ) from None
        if not answer["ok"]:
            self._finish(
                registered, worker, record, "error", f"{answer['errorType']}: {answer['errorMessage']}"
            )
            raise InvocationFailed(f"{function.name} failed: {answer['errorType']}: {answer['errorMessage']}")
        self._finish(registered, worker, record, "ok", "")
        return answer["value"]

    def invoke_async(self, name_or_arn: str, event: Any, *, trigger: str) -> Future[None]:
        """Queues an invocation as Lambda's Event type does; failures are tried twice more."""
        self._registered(name_or_arn)
        return self._pool.submit(self._run_async, name_or_arn, event, trigger)

    def _run_async(self, name_or_arn: str, event: Any, trigger: str) -> None:
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            try:
                self.invoke(name_or_arn, event, trigger=trigger, attempt=attempt)
                return
            except InvocationFailed:
                if attempt == ASYNC_ATTEMPTS or self.function(name_or_arn) is None:
                    return
                time.sleep(ASYNC_RETRY_DELAYS[attempt - 1])
            except KeyError:
                return  # the function was deleted meanwhile

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            registered = list(self._functions.values())
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
        self, registered: _Registered, worker: _Worker, record: Invocation, outcome: str, error: str
    ) -> None:
        record.ended, record.outcome, record.error = time.time(), outcome, error
        with self._lock:
            registered.busy.discard(worker)
            current = self._functions.get(registered.function.name)
            keep = worker.alive() and current is registered
            if keep:
                registered.idle.append(worker)
        if not keep:
            worker.kill()

    def _end(self, registered: _Registered) -> None:
        with self._lock:
            workers = [*registered.idle]
            registered.idle.clear()
        for worker in workers:
            worker.kill()
