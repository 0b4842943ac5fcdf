"""Shared fixtures: one synthesized example app for the template tests; an AWS-free handler setup."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
CDK_CONTEXT: dict[str, Any] = {**NO_BUNDLING, "@aws-cdk/core:validateAgainstDefaultRules": True}


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
