"""Shared fixtures: one synthesized example app for the template tests; an AWS-free handler setup."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.constants import REGION

# The handler module builds crhelper's clients on import: give it a region and dummy credentials, and
# never let a test reach a real endpoint.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.setdefault("AWS_REGION", REGION)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)

from tests.support.apps import ExampleApp

# The `served` fixture: a local docdb-elastic service on a manual clock.
pytest_plugins = ["tests.support.local_service"]


@pytest.fixture(scope="session")
def example() -> Iterator[ExampleApp]:
    yield ExampleApp()
