"""Apps for the template tests: synthesized with the context of cdk.json, so they check what the app ships."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

import app as example_app
from tests.support.constants import CDK_JSON

# Skips bundling (fast); tests that need the real asset synthesize their own app.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


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


def partition_arn(rest: str) -> str:
    """An ARN as the app renders it: cdk.json's `enablePartitionLiterals` writes the partition of a known
    region literally."""
    return f"arn:aws{rest}"
