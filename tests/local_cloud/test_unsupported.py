"""Lambdas the local cloud cannot run fail the deploy at once, naming the resource and its runtime."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aws_cdk import App, CustomResource, Duration, Environment, Stack
from aws_cdk import aws_lambda as lambda_

from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.engine import DeployFailed, StackEvent


def node_app(directory: Path) -> Path:
    code = directory / "handler"
    code.mkdir()
    (code / "index.js").write_text("exports.handler = async () => ({});\n")
    app = App(outdir=str(directory / "cdk.out"))
    stack = Stack(app, "NodeStack", env=Environment(account="123456789012", region="us-east-1"))
    function = lambda_.Function(
        stack,
        "NodeHandler",
        runtime=lambda_.Runtime.NODEJS_20_X,
        handler="index.handler",
        code=lambda_.Code.from_asset(str(code)),
    )
    CustomResource(stack, "Thing", service_token=function.function_arn, service_timeout=Duration.minutes(60))
    return Path(app.synth().directory)


def test_a_nodejs_function_fails_the_deploy_at_once_naming_resource_and_runtime(tmp_path: Path) -> None:
    events: list[StackEvent] = []
    with LocalCloud(tmp_path / "state", progress=events.append) as cloud:
        started = time.monotonic()
        with pytest.raises(DeployFailed):
            cloud.deploy(node_app(tmp_path))
        assert time.monotonic() - started < 60
        assert cloud.client("lambda", "us-east-1").list_functions()["Functions"] == []  # none left behind
    [failed] = [event for event in events if event.status == "CREATE_FAILED"]
    assert failed.logical_id.startswith("NodeHandler")
    assert failed.reason.startswith("function ")  # the resource's reason, not an exception's type name
    assert "runtime nodejs20.x" in failed.reason
    assert "Python functions only" in failed.reason
