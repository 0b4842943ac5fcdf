"""Delivering the answer to CloudFormation: bounded retries, only 2xx counts."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from copied_snapshot_runtime import response
from tests.handler_harness import SIGNATURE, CloudFormationEndpoint

BODY = {"Status": "SUCCESS", "PhysicalResourceId": "arn", "Data": {}}


@pytest.fixture
def cfn() -> Iterator[CloudFormationEndpoint]:
    endpoint = CloudFormationEndpoint()
    yield endpoint
    endpoint.close()


def test_delivered_on_first_2xx(cfn: CloudFormationEndpoint) -> None:
    sleeps: list[float] = []
    assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is True
    assert cfn.responses == [BODY]
    assert sleeps == []


def test_error_statuses_are_retried_with_backoff(cfn: CloudFormationEndpoint) -> None:
    cfn.statuses = [500, 403]
    sleeps: list[float] = []
    assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is True
    assert len(cfn.responses) == 3
    assert sleeps == [2.0, 4.0]


def test_gives_up_after_bounded_attempts(
    cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    cfn.statuses = [403] * 10
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is False
    assert len(cfn.responses) == response.ATTEMPTS
    assert sleeps == [2.0, 4.0, 8.0, 16.0]
    assert "not delivered after 5 attempts" in caplog.text
    assert SIGNATURE not in caplog.text


def test_unreachable_endpoint_is_bounded_too(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}/response?{SIGNATURE}"
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        assert response.send_response(url, BODY, sleep=sleeps.append) is False
    assert len(sleeps) == response.ATTEMPTS - 1
    assert SIGNATURE not in caplog.text and url not in caplog.text
