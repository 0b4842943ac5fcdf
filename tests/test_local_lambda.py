"""The local cloud's Lambda runner, its HTTPS response endpoint and its EventBridge schedule rules."""

from __future__ import annotations

import json
import ssl
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloudformation.custom import CustomResource
from local_cloud.cloudformation.providers import Change, ResourceFailed
from local_cloud.cloudformation.responses import MAX_RESPONSE_BYTES, ResponseEndpoint
from local_cloud.cloudformation.store import StackState
from local_cloud.lambda_runtime import runtime_site
from local_cloud.lambda_runtime.runner import Function, InvocationFailed, LambdaRunner
from local_cloud.scheduler import allowed_by, rate_seconds

HANDLER = textwrap.dedent(
    """
    import os, time

    def handler(event, context):
        print("seen", event.get("say"), "by", context.function_name, os.environ.get("GREETING"))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError("asked to fail")
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


@pytest.fixture
def runner(tmp_path: Path, runtime_dir: Path) -> Iterator[LambdaRunner]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    running = LambdaRunner(tmp_path / "logs", runtime_dir)
    running.register(
        Function(
            name="greeter",
            arn="arn:aws:lambda:us-east-1:123456789012:function:greeter",
            code_dir=code,
            handler="app.handler",
            environment={"GREETING": "hello"},
            timeout=2,
        )
    )
    yield running
    running.shutdown()


def test_runtime_holds_the_sdk_and_nothing_else(runtime_dir: Path) -> None:
    names = {path.name for path in runtime_dir.iterdir()}
    assert {"boto3", "botocore"} <= names
    assert not names & {"crhelper", "copied_snapshot_runtime", "local_cloud", "pytest", "moto"}


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


def test_a_timeout_kills_the_worker_and_is_logged(runner: LambdaRunner) -> None:
    warm = runner.invoke("greeter", {})["pid"]
    with pytest.raises(InvocationFailed, match="timed out after 2 seconds"):
        runner.invoke("greeter", {"sleep": 5})
    assert "Task timed out after 2.00 seconds" in runner.log("greeter")
    assert runner.invoke("greeter", {})["pid"] != warm


def test_a_failed_async_invocation_is_tried_twice_more(runner: LambdaRunner) -> None:
    runner.invoke_async("greeter", {"fail": True}, trigger="test").result(timeout=30)
    attempts = [(record.attempt, record.outcome) for record in runner.invocations if record.trigger == "test"]
    assert attempts == [(1, "error"), (2, "error"), (3, "error")]
    assert runner.log("greeter").count("ValueError: asked to fail") == 3


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
    cloud: Any = type("Cloud", (), {"runner": lambda_stub})()
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
    cloud: Any = type("Cloud", (), {"runner": SilentRunner()})()
    stack = StackState("Stack", "stack-id", "123456789012", "us-east-1", "CREATE_IN_PROGRESS", {})
    token = "arn:aws:lambda:us-east-1:123456789012:function:handler"
    change = Change(cloud, stack, "Copy", "Custom::Thing", {"ServiceToken": token, "ServiceTimeout": 1})
    custom = CustomResource(endpoint)
    with pytest.raises(
        ResourceFailed, match="did not receive a response from your Custom Resource within 1 seconds"
    ):
        custom.create(change)
    assert custom.timelines[0].status == "TIMED_OUT"
