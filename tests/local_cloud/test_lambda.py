"""The local cloud's Lambda runner, its HTTPS response endpoint and its EventBridge schedule rules."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import ssl
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from copied_snapshot_local_cloud.clock import ScaledClock, SimulatedClock
from copied_snapshot_local_cloud.cloudformation.custom import CustomResource
from copied_snapshot_local_cloud.cloudformation.providers import Change, ResourceFailed
from copied_snapshot_local_cloud.cloudformation.responses import MAX_RESPONSE_BYTES, ResponseEndpoint
from copied_snapshot_local_cloud.cloudformation.store import StackState
from copied_snapshot_local_cloud.lambda_runtime import runner as runner_module
from copied_snapshot_local_cloud.lambda_runtime import runtime_site
from copied_snapshot_local_cloud.lambda_runtime.runner import (
    Faults,
    Function,
    InvocationFailed,
    LambdaRunner,
    UnsupportedRuntime,
)
from copied_snapshot_local_cloud.scheduler import allowed_by, rate_seconds

HANDLER = textwrap.dedent(
    """
    import os, signal, time

    def handler(event, context):
        print("seen", event.get("say"), "by", context.function_name, os.environ.get("GREETING"))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError("asked to fail")
        if event.get("die"):
            os.kill(os.getpid(), signal.SIGKILL)
        if event.get("clock"):
            return {"time": time.time(), "remaining": context.get_remaining_time_in_millis()}
        try:
            import crhelper  # not part of the runtime: only a bundled copy may provide it
            bundled = True
        except ImportError:
            bundled = False
        return {"pid": os.getpid(), "remaining": context.get_remaining_time_in_millis(), "crhelper": bundled}
    """
)


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_site.build(tmp_path_factory.mktemp("runtime"))


def greeter(code: Path, timeout: float = 2) -> Function:
    return Function(
        name="greeter",
        arn="arn:aws:lambda:us-east-1:123456789012:function:greeter",
        code_dir=code,
        handler="app.handler",
        environment={"GREETING": "hello"},
        timeout=timeout,
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(HANDLER)
    return directory


@pytest.fixture
def console() -> list[str]:
    return []


@pytest.fixture
def runner(tmp_path: Path, runtime_dir: Path, code: Path, console: list[str]) -> Iterator[LambdaRunner]:
    running = LambdaRunner(tmp_path / "logs", runtime_dir, console=console.append)
    running.register(greeter(code))
    yield running
    running.shutdown()


@pytest.fixture
def simulated(tmp_path: Path, runtime_dir: Path, code: Path) -> Iterator[LambdaRunner]:
    """A runner on a simulated clock (idle time skipped), for Lambda's minutes-long retry delays."""
    clock = SimulatedClock(start=1_000_000.0)
    running = LambdaRunner(tmp_path / "logs", runtime_dir, clock=clock, console=lambda text: None)
    running.register(greeter(code, timeout=300))
    yield running
    running.shutdown()
    clock.stop()


def test_runtime_holds_the_sdk_and_nothing_else(runtime_dir: Path) -> None:
    names = {path.name for path in runtime_dir.iterdir()}
    assert {"boto3", "botocore"} <= names
    assert not names & {
        "crhelper",
        "copied_snapshot_runtime",
        "copied_snapshot_local_cloud",
        "pytest",
        "moto",
    }


def test_invocations_get_the_event_context_and_environment_and_reuse_a_warm_worker(
    runner: LambdaRunner,
) -> None:
    first = runner.invoke("greeter", {"say": "one"})
    second = runner.invoke("arn:aws:lambda:us-east-1:123456789012:function:greeter", {"say": "two"})
    assert first["pid"] == second["pid"]
    assert 0 < first["remaining"] <= 2000
    assert first["crhelper"] is False
    log = runner.log("greeter")
    assert "seen one by greeter hello" in log
    assert "seen two by greeter hello" in log
    assert log.count("START RequestId") == 2


def test_concurrent_invocations_never_share_a_worker(runner: LambdaRunner) -> None:
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: runner.invoke("greeter", {"sleep": 0.5}), range(3)))
    assert len({answer["pid"] for answer in answers}) == 3


def test_a_timeout_kills_the_worker_and_is_logged(runner: LambdaRunner, console: list[str]) -> None:
    warm = runner.invoke("greeter", {})["pid"]
    with pytest.raises(InvocationFailed, match="timed out after 2 seconds"):
        runner.invoke("greeter", {"sleep": 5})
    assert "Task timed out after 2.00 seconds" in runner.log("greeter")
    assert "timeout: Task timed out" in console[0]
    assert runner.invoke("greeter", {})["pid"] != warm


def test_an_invocations_last_output_is_in_the_log_when_it_returns(runner: LambdaRunner) -> None:
    for number in range(1, 31):
        runner.invoke("greeter", {"say": number})
        log = runner.log("greeter")
        assert f"seen {number} by greeter" in log
        assert log.count("REPORT RequestId") == number


def test_a_failed_async_invocation_is_tried_twice_more_a_minute_then_two_later(
    simulated: LambdaRunner,
) -> None:
    simulated.invoke_async("greeter", {"fail": True}, trigger="test").result(timeout=30)
    records = [record for record in simulated.invocations if record.trigger == "test"]
    assert [(record.attempt, record.outcome) for record in records] == [
        (1, "error"),
        (2, "error"),
        (3, "error"),
    ]
    assert simulated.log("greeter").count("ValueError: asked to fail") == 3
    gaps = [later.started - earlier.ended for earlier, later in itertools.pairwise(records)]
    assert 60 <= gaps[0] < 60.5
    assert 120 <= gaps[1] < 120.5


def test_a_retry_waiting_for_its_delay_holds_no_worker_thread(
    tmp_path: Path, runtime_dir: Path, code: Path
) -> None:
    clock = SimulatedClock(start=1_000_000.0)
    running = LambdaRunner(
        tmp_path / "logs", runtime_dir, max_concurrency=1, clock=clock, console=lambda text: None
    )
    running.register(greeter(code, timeout=300))
    try:
        failing = running.invoke_async("greeter", {"fail": True}, trigger="failing")
        running.invoke_async("greeter", {}, trigger="fine").result(timeout=30)
        failing.result(timeout=30)
        first, fine = running.invocations[:2]
        assert (first.trigger, fine.trigger) == ("failing", "fine")
        assert fine.started - first.ended < 1  # not after the failing one's retries, a minute and more later
        assert [record.trigger for record in running.invocations[2:]] == ["failing", "failing"]
    finally:
        running.shutdown()
        clock.stop()


def test_async_retries_can_be_switched_off(tmp_path: Path, runtime_dir: Path, code: Path) -> None:
    running = LambdaRunner(tmp_path / "logs", runtime_dir, faults=Faults(async_retries=False), console=print)
    running.register(greeter(code))
    try:
        running.invoke_async("greeter", {"fail": True}, trigger="test").result(timeout=30)
        assert [record.attempt for record in running.invocations] == [1]
    finally:
        running.shutdown()


def test_a_delayed_async_invocation_starts_after_its_delay(simulated: LambdaRunner) -> None:
    queued = simulated.clock.now()
    simulated.invoke_async("greeter", {}, trigger="test", delay=90).result(timeout=30)
    [record] = simulated.invocations
    assert 90 <= record.started - queued < 90.5


def test_the_worker_reads_the_clocks_simulated_time(simulated: LambdaRunner) -> None:
    simulated.clock.sleep(3600)
    before = simulated.clock.now()
    answer = simulated.invoke("greeter", {"clock": True})
    assert before <= answer["time"] <= simulated.clock.now()
    assert 299_000 < answer["remaining"] <= 300_000


def test_a_handlers_sleep_is_slept_on_the_clock_and_counts_in_its_time(simulated: LambdaRunner) -> None:
    simulated.invoke("greeter", {})  # a warm worker
    before, wall = simulated.clock.now(), time.monotonic()
    answer = simulated.invoke("greeter", {"sleep": 120, "clock": True})
    assert time.monotonic() - wall < 10  # two idle minutes skipped, not waited
    assert 120 <= answer["time"] - before < 122
    assert 178_000 < answer["remaining"] <= 180_000  # of its 300 s timeout
    record = simulated.invocations[-1]
    assert 120 <= record.ended - record.started < 122  # billed with its sleep, as Lambda does
    assert "Duration: 120" in simulated.log("greeter").splitlines()[-1]


def test_a_sleep_past_the_deadline_times_out_at_the_deadline_on_the_clock(simulated: LambdaRunner) -> None:
    before, wall = simulated.clock.now(), time.monotonic()
    with pytest.raises(InvocationFailed, match="timed out after 300 seconds"):
        simulated.invoke("greeter", {"sleep": 400})
    assert time.monotonic() - wall < 10
    assert 300 <= simulated.clock.now() - before < 310
    record = simulated.invocations[-1]
    assert (record.outcome, round(record.ended - record.started)) == ("timeout", 300)


def test_on_a_scaled_clock_the_worker_starts_from_the_clocks_time_and_works_at_the_wall_clocks_pace(
    tmp_path: Path, runtime_dir: Path, code: Path
) -> None:
    clock = ScaledClock(3600)  # an hour a second: simulated time is far ahead of the wall clock
    running = LambdaRunner(tmp_path / "logs", runtime_dir, clock=clock, console=lambda text: None)
    running.register(greeter(code, timeout=1))
    try:
        running.invoke("greeter", {})  # a warm worker
        time.sleep(0.5)
        before = clock.now()
        answer = running.invoke("greeter", {"clock": True})
        assert before - 5 <= answer["time"] <= clock.now()
        assert answer["time"] - time.time() > 1000
        assert 500 < answer["remaining"] <= 1000  # the timeout is wall-clock seconds
        with pytest.raises(InvocationFailed, match="timed out after 1 seconds"):
            running.invoke("greeter", {"sleep": 3})
    finally:
        running.shutdown()


def test_shutdown_ends_a_running_invocation_at_once_even_while_it_sleeps(
    tmp_path: Path, runtime_dir: Path, code: Path
) -> None:
    """The interpreter waits for invoking threads before it exits: one left sleeping would hold up a stop."""
    running = LambdaRunner(tmp_path / "logs", runtime_dir, console=lambda text: None)
    running.register(greeter(code, timeout=300))
    with ThreadPoolExecutor(1) as pool:
        sleeping = pool.submit(running.invoke, "greeter", {"say": "sleepy", "sleep": 120})
        while "seen sleepy" not in running.log("greeter"):
            time.sleep(0.05)
        running.shutdown()
        with pytest.raises(InvocationFailed, match="the local cloud stopped during the invocation"):
            sleeping.result(timeout=10)
    assert running.running() == 0


def test_a_warm_worker_found_dead_only_when_sent_its_request_ends_the_invocation_as_failed(
    runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker may die between the check that it is alive and its use: the invocation fails and ends."""
    warm = runner.invoke("greeter", {})["pid"]
    os.kill(warm, signal.SIGKILL)
    while Path(f"/proc/{warm}/stat").read_text().split()[2] != "Z":  # exited, not yet reaped
        time.sleep(0.01)
    checks = itertools.count()
    alive = runner_module._Worker.alive
    monkeypatch.setattr(runner_module._Worker, "alive", lambda worker: next(checks) == 0 or alive(worker))
    with pytest.raises(InvocationFailed, match="exited during the invocation"):
        runner.invoke("greeter", {})
    assert runner.invocations[-1].outcome == "crashed"
    assert runner.running() == 0
    assert runner.invoke("greeter", {})["pid"] != warm


def test_a_worker_that_dies_ends_its_invocation_as_failed_and_shows_its_output(
    runner: LambdaRunner, console: list[str]
) -> None:
    warm = runner.invoke("greeter", {})["pid"]
    with pytest.raises(InvocationFailed, match="worker process exited during the invocation"):
        runner.invoke("greeter", {"say": "last words", "die": True})
    assert runner.invocations[-1].outcome == "crashed"
    assert runner.invocations[-1].ended >= runner.invocations[-1].started
    [shown] = console
    assert "crashed" in shown
    assert "seen last words by greeter" in shown
    assert runner.invoke("greeter", {})["pid"] != warm


def test_a_failed_invocations_output_is_shown_on_the_console(
    runner: LambdaRunner, console: list[str]
) -> None:
    runner.invoke("greeter", {"say": "fine"})
    assert console == []
    with pytest.raises(InvocationFailed):
        runner.invoke("greeter", {"say": "doomed", "fail": True})
    [shown] = console
    assert "seen doomed by greeter" in shown
    assert "ValueError: asked to fail" in shown
    assert "seen fine" not in shown


def test_injected_worker_crashes_kill_the_worker_mid_invocation(
    tmp_path: Path, runtime_dir: Path, code: Path
) -> None:
    faults = Faults(worker_crash=1.0, crash_within=0.2, async_retries=False)
    running = LambdaRunner(tmp_path / "logs", runtime_dir, faults=faults, console=lambda text: None)
    running.register(greeter(code, timeout=10))
    try:
        with pytest.raises(InvocationFailed, match="exited during the invocation"):
            running.invoke("greeter", {"sleep": 2})
        assert running.invocations[-1].outcome == "crashed"
    finally:
        running.shutdown()


def test_injected_lambda_timeouts_cut_the_invocation_and_its_context_says_so(
    tmp_path: Path, runtime_dir: Path, code: Path
) -> None:
    faults = Faults(lambda_timeout=1.0, timeout_within=(0.5, 0.5))
    running = LambdaRunner(tmp_path / "logs", runtime_dir, faults=faults, console=lambda text: None)
    running.register(greeter(code, timeout=10))
    try:
        assert running.invoke("greeter", {"clock": True})["remaining"] <= 500
        with pytest.raises(InvocationFailed, match=r"timed out after 0\.5 seconds"):
            running.invoke("greeter", {"sleep": 2})
    finally:
        running.shutdown()


def test_faults_are_seeded(tmp_path: Path, runtime_dir: Path, code: Path) -> None:
    def outcomes(seed: int) -> list[str]:
        faults = Faults(lambda_timeout=0.5, timeout_within=(0.3, 0.3), seed=seed)
        running = LambdaRunner(
            tmp_path / f"logs{seed}", runtime_dir, faults=faults, console=lambda text: None
        )
        running.register(greeter(code, timeout=10))
        try:
            for _ in range(8):
                with contextlib.suppress(InvocationFailed):
                    running.invoke("greeter", {"sleep": 0.6})
            return [record.outcome for record in running.invocations]
        finally:
            running.shutdown()

    first = outcomes(7)
    assert first == outcomes(7)
    assert {"ok", "timeout"} <= set(first)


@pytest.mark.parametrize(
    ("files", "runtime", "refused"),
    [
        ({"index.js": "exports.handler = async () => {};"}, "", "nodejs"),
        ({"index.py": "def handler(e, c): pass"}, "nodejs20.x", "nodejs20.x"),
        ({"index.py": "def handler(e, c): pass"}, "", None),
        ({"index.py": "def handler(e, c): pass"}, "python3.12", None),
    ],
)
def test_functions_other_than_python_are_refused_when_registered(
    runner: LambdaRunner, tmp_path: Path, files: dict[str, str], runtime: str, refused: str | None
) -> None:
    code = tmp_path / "other"
    code.mkdir()
    for name, text in files.items():
        (code / name).write_text(text)
    function = Function("other", "arn:aws:lambda:us-east-1:123456789012:function:other", code,
                        "index.handler", {}, 3, runtime=runtime)  # fmt: skip
    if refused is None:
        runner.register(function)
        assert runner.function("other") is not None
        return
    with pytest.raises(
        UnsupportedRuntime, match=rf"function other uses runtime {refused} .*Python functions only"
    ):
        runner.register(function)
    assert runner.function("other") is None


def test_unknown_functions_are_refused(runner: LambdaRunner) -> None:
    with pytest.raises(KeyError, match="Function not found"):
        runner.invoke_async("nobody", {}, trigger="test")


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[ResponseEndpoint]:
    serving = ResponseEndpoint(tmp_path)
    serving.start()
    yield serving
    serving.stop()


def put(url: str, body: bytes, cafile: Path | None) -> int:
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    request = urllib.request.Request(url, data=body, method="PUT")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_response_url_is_https_trusted_through_the_throwaway_ca(endpoint: ResponseEndpoint) -> None:
    url = endpoint.url_for("request-1")
    assert url.startswith("https://127.0.0.1:")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        put(url, b"{}", None)
    body = {"Status": "SUCCESS", "PhysicalResourceId": "x", "RequestId": "request-1"}
    assert put(url, json.dumps(body).encode(), endpoint.ca_file) == 200
    answer = endpoint.wait("request-1", 1)
    assert answer is not None
    assert answer[0] == body


def test_response_url_needs_its_signature_and_takes_one_answer(endpoint: ResponseEndpoint) -> None:
    url = endpoint.url_for("request-2")
    forged = url.rsplit("=", 1)[0] + "=forged"
    assert put(forged, b"{}", endpoint.ca_file) == 403
    assert endpoint.wait("request-2", 0.1) is None
    assert put(url, b'{"Status": "SUCCESS"}', endpoint.ca_file) == 200
    assert put(url, b'{"Status": "FAILED"}', endpoint.ca_file) == 409


def test_an_oversized_response_counts_as_failed(endpoint: ResponseEndpoint) -> None:
    url = endpoint.url_for("request-3")
    assert put(url, b"x" * (MAX_RESPONSE_BYTES + 1), endpoint.ca_file) == 200
    answer = endpoint.wait("request-3", 1)
    assert answer is not None
    assert answer[0]["Status"] == "FAILED"
    assert "too long" in answer[0]["Reason"]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("cron(0 12 * * ? *)", None)],
)
def test_schedule_rates(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


POLICY: dict[str, Any] = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Condition": {
                "ArnLike": {
                    "AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/CopiedSnapshotab12-*"
                },
                "StringEquals": {"AWS:SourceAccount": "123456789012"},
            },
        }
    ]
}


@pytest.mark.parametrize(
    ("rule", "account", "allowed"),
    [
        ("arn:aws:events:us-east-1:123456789012:rule/CopiedSnapshotab12-CopyAbc", "123456789012", True),
        ("arn:aws:events:us-east-1:123456789012:rule/OtherRule", "123456789012", False),
        ("arn:aws:events:us-east-1:123456789012:rule/CopiedSnapshotab12-CopyAbc", "210987654321", False),
    ],
)
def test_rules_invoke_only_functions_whose_policy_allows_them(rule: str, account: str, allowed: bool) -> None:
    assert allowed_by(POLICY, "events.amazonaws.com", rule, account) is allowed


class AnsweringRunner:
    """Stands in for Lambda: keeps each event and answers it the way crhelper would."""

    def __init__(self, ca_file: Path) -> None:
        self.events: list[dict[str, Any]] = []
        self._ca_file = ca_file

    def function(self, name_or_arn: str) -> object:
        return object()

    def invoke_async(self, name_or_arn: str, event: dict[str, Any], *, trigger: str) -> None:
        self.events.append(event)
        body = {
            "Status": "SUCCESS",
            "PhysicalResourceId": event.get("PhysicalResourceId", "made-1"),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {"Answer": "42"},
        }
        put(event["ResponseURL"], json.dumps(body).encode(), self._ca_file)


def test_custom_resource_events_carry_what_cloudformation_sends(
    endpoint: ResponseEndpoint, tmp_path: Path
) -> None:
    lambda_stub = AnsweringRunner(endpoint.ca_file)
    cloud: Any = type("Cloud", (), {"runner": lambda_stub, "clock": ScaledClock()})()
    stack = StackState("Stack", "arn:aws:cloudformation:us-east-1:123456789012:stack/Stack/1", "123456789012",
                       "us-east-1", "UPDATE_IN_PROGRESS", {})  # fmt: skip
    token = "arn:aws:lambda:us-east-1:123456789012:function:handler"
    custom = CustomResource(endpoint)
    new = {
        "ServiceToken": token,
        "ServiceTimeout": 60,
        "CopyTags": True,
        "Tags": [{"Key": "a", "Value": "b"}],
    }
    change = Change(
        cloud, stack, "Copy", "Custom::CopiedSnapshot", new, {}, "made-1", {"ServiceToken": token}
    )
    outcome = custom.update(change)
    [event] = lambda_stub.events
    assert set(event) == {
        "RequestType", "ServiceToken", "ResponseURL", "StackId", "RequestId", "LogicalResourceId",
        "ResourceType", "ResourceProperties", "OldResourceProperties", "PhysicalResourceId",
    }  # fmt: skip
    assert event["RequestType"] == "Update"
    tags = [{"Key": "a", "Value": "b"}]
    assert event["ResourceProperties"] == {
        "ServiceToken": token, "ServiceTimeout": "60", "CopyTags": "true", "Tags": tags,
    }  # fmt: skip
    assert event["OldResourceProperties"] == {"ServiceToken": token}
    assert (outcome.physical_id, outcome.attributes) == ("made-1", {"Answer": "42"})
    [timeline] = custom.timelines
    assert timeline.answered is not None
    assert (timeline.request_type, timeline.status) == ("Update", "SUCCESS")


class SilentRunner:
    """A function that never answers, as a handler that crashed before responding."""

    def function(self, name_or_arn: str) -> object:
        return object()

    def invoke_async(self, name_or_arn: str, event: dict[str, Any], *, trigger: str) -> None:
        return


def test_no_response_within_the_service_timeout_fails_the_resource(endpoint: ResponseEndpoint) -> None:
    cloud: Any = type("Cloud", (), {"runner": SilentRunner(), "clock": ScaledClock()})()
    stack = StackState("Stack", "stack-id", "123456789012", "us-east-1", "CREATE_IN_PROGRESS", {})
    token = "arn:aws:lambda:us-east-1:123456789012:function:handler"
    change = Change(cloud, stack, "Copy", "Custom::Thing", {"ServiceToken": token, "ServiceTimeout": 1})
    custom = CustomResource(endpoint)
    with pytest.raises(
        ResourceFailed, match="did not receive a response from your Custom Resource within 1 seconds"
    ):
        custom.create(change)
    assert custom.timelines[0].status == "TIMED_OUT"
