"""Shared fixtures: one synthesized example app for the template tests; an AWS-free handler setup."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The handler module builds crhelper's clients on import: give it a region and dummy credentials, and
# never let a test reach a real endpoint.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)

from aws_cdk import App
from aws_cdk.assertions import Template

import app as example_app

# The `served` fixture: a local docdb-elastic service on a manual clock.
pytest_plugins = ["tests.local_service"]

# Skips bundling (fast); tests that need the real asset synthesize their own app.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context the app ships with in cdk.json (feature flags), as `cdk synth` reads it."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


CDK_CONTEXT: dict[str, Any] = {**cdk_json_context(), **NO_BUNDLING}


def new_app(**context: Any) -> App:
    return App(context={**CDK_CONTEXT, **context})


class ExampleApp:
    def __init__(self) -> None:
        self.app = new_app()
        self.copy_stack, self.consumer_stack = example_app.build(self.app)
        self.assembly = self.app.synth()
        self.copy_template = Template.from_stack(self.copy_stack)
        self.consumer_template = Template.from_stack(self.consumer_stack)


@pytest.fixture(scope="session")
def example() -> Iterator[ExampleApp]:
    yield ExampleApp()


def partition_arn(rest: str) -> str:
    """An ARN as the app renders it: cdk.json's `enablePartitionLiterals` writes the partition of a known
    region literally."""
    return f"arn:aws{rest}"
