"""One warm Lambda execution environment: imports a function's handler once, then runs invocations one at a
time, as Lambda's runtime does.

It runs as `python -I -S -u worker.py <request fd> <result fd> <code dir> <runtime dir> <handler> <clock>`:
isolated and without site-packages, so the function sees only its own bundled code and the runtime's SDK
(boto3 and its dependencies), never this project's sources or test packages. Requests arrive as JSON lines on
one pipe and results leave on another; stdout and stderr are the function's log.

The function lives on the local cloud's clock: before its code is imported, `time.time` and `time.time_ns`
are replaced by a clock that reads the local cloud's time from an anchor (a simulated instant and the
wall-clock instant it was read at), which every request renews, and runs at the wall clock's pace from there:
a scale speeds up waiting, not the function's own work. Waiting is the clock's: during an invocation,
`time.sleep` asks the runner to sleep on the local cloud's clock (a `{"sleep": seconds}` line on the result
pipe) and goes on from the anchor the runner sends back once that time has passed (a scaled clock sleeps
shorter; a simulated one may skip the time while nothing else runs), so a handler that waits in-process for
minutes costs the wall clock no more than one that waits between invocations.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, TextIO

_wall_time = time.time
_wall_sleep = time.sleep


class SimulatedTime:
    """The local cloud's time inside the worker, from the latest anchor the runner sent."""

    def __init__(self, simulated: float, real: float) -> None:
        self.anchor(simulated, real)

    def anchor(self, simulated: float, real: float) -> None:
        self.simulated, self.real = simulated, real

    def time(self) -> float:
        return self.simulated + (_wall_time() - self.real)

    def time_ns(self) -> int:
        return int(self.time() * 1e9)

    def install(self) -> None:
        time.time = self.time
        time.time_ns = self.time_ns


class CloudSleep:
    """`time.sleep` during an invocation: the runner sleeps on the local cloud's clock and sends the anchor
    to go on from. Outside an invocation (while the handler's module is imported) it is the wall clock's."""

    def __init__(self, clock: SimulatedTime) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # one request on the pipes at a time, whichever thread sleeps
        self._pipes: tuple[TextIO, TextIO] | None = None

    def during(self, requests: TextIO, results: TextIO) -> None:
        self._pipes = (requests, results)

    def after(self) -> None:
        self._pipes = None

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        pipes = self._pipes
        if pipes is None or seconds == 0:
            _wall_sleep(seconds)
            return
        requests, results = pipes
        with self._lock:
            results.write(json.dumps({"sleep": seconds}) + "\n")
            results.flush()
            answer = requests.readline()
        if not answer:  # the runner is gone: the invocation is over
            raise SystemExit(1)
        self._clock.anchor(*json.loads(answer)["clock"])

    def install(self) -> None:
        time.sleep = self.sleep  # type: ignore[assignment] # floats only: what handlers and botocore pass


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name: str = request["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = request["functionArn"]
        self.memory_limit_in_mb: int = request["memoryMb"]
        self.aws_request_id: str = request["requestId"]
        self.log_group_name: str = request["logGroup"]
        self.log_stream_name: str = request["logStream"]
        self._deadline: float = request["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _lambda_logging() -> None:
    """Lambda's runtime gives the root logger a handler on stdout (level WARNING until code changes it)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    logging.getLogger().addHandler(handler)


def _load(code_dir: str, runtime_dir: str, handler: str) -> Any:
    code_dir = os.path.abspath(code_dir)
    sys.path.insert(0, code_dir)
    sys.path.append(runtime_dir)
    os.chdir(code_dir)
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name.replace("/", ".")), function_name)


def main() -> None:
    request_fd, result_fd, code_dir, runtime_dir, handler, anchor = sys.argv[1:7]
    function: Any = None
    init_error: dict[str, str] | None = None
    clock = SimulatedTime(*json.loads(anchor))
    clock.install()
    sleeper = CloudSleep(clock)
    sleeper.install()
    _lambda_logging()
    try:
        function = _load(code_dir, runtime_dir, handler)
    except Exception as error:  # an init error fails every invocation, as in Lambda
        traceback.print_exc()
        init_error = {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"{type(error).__name__}: {error}",
        }
    with (
        os.fdopen(int(request_fd), encoding="utf-8") as requests,
        os.fdopen(int(result_fd), "w", encoding="utf-8") as results,
    ):
        for line in requests:
            request = json.loads(line)
            clock.anchor(*request["clock"])
            started = clock.time()  # its duration counts the clock's sleeps, as Lambda bills them
            sleeper.during(requests, results)
            print(f"START RequestId: {request['requestId']} Version: $LATEST", flush=True)
            if init_error is not None:
                result: dict[str, Any] = {"ok": False, **init_error}
            else:
                try:
                    value = function(request["event"], LambdaContext(request))
                    result = {"ok": True, "value": value}
                except Exception as error:
                    traceback.print_exc()
                    result = {"ok": False, "errorType": type(error).__name__, "errorMessage": str(error)}
            sleeper.after()
            milliseconds = (clock.time() - started) * 1000
            sys.stderr.flush()
            print(f"END RequestId: {request['requestId']}", flush=True)
            print(f"REPORT RequestId: {request['requestId']}\tDuration: {milliseconds:.2f} ms", flush=True)
            results.write(json.dumps(result, default=str) + "\n")
            results.flush()


if __name__ == "__main__":
    main()
