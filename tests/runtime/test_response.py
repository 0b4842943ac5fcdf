"""Delivering the answer to CloudFormation: bounded retries, only 2xx counts, a 4xx is final."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from copied_snapshot_runtime import response
from tests.support.handler_harness import SIGNATURE, CloudFormationEndpoint

BODY = {"Status": "SUCCESS", "PhysicalResourceId": "arn", "Data": {}}


@pytest.fixture
def cfn() -> Iterator[CloudFormationEndpoint]:
    endpoint = CloudFormationEndpoint()
    yield endpoint
    endpoint.close()


def test_delivered_on_first_2xx(cfn: CloudFormationEndpoint) -> None:
    sleeps: list[float] = []
    assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is response.Delivery.DELIVERED
    assert cfn.responses == [BODY]
    assert sleeps == []


def test_server_errors_are_retried_with_backoff(cfn: CloudFormationEndpoint) -> None:
    cfn.statuses = [500, 503]
    sleeps: list[float] = []
    assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is response.Delivery.DELIVERED
    assert len(cfn.responses) == 3
    assert sleeps == [2.0, 4.0]


def test_gives_up_after_bounded_attempts(
    cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    cfn.statuses = [500] * 10
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is response.Delivery.UNDELIVERED
    assert len(cfn.responses) == response.ATTEMPTS
    assert sleeps == [2.0, 4.0, 8.0, 16.0]
    assert "not delivered after 5 attempts" in caplog.text
    assert SIGNATURE not in caplog.text


@pytest.mark.parametrize("status", [400, 403])
def test_a_url_that_refuses_the_answer_is_not_asked_again_nor_logged_as_a_failure(
    cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """A pre-signed URL already answered or expired answers 4xx (assumed); asking again cannot help."""
    cfn.statuses = [status] * 10
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        assert response.send_response(cfn.url, BODY, sleep=sleeps.append) is response.Delivery.REFUSED
    assert len(cfn.responses) == 1
    assert sleeps == []
    assert [record.levelname for record in caplog.records] == ["INFO"]


@pytest.mark.parametrize("url", ["not a url " + SIGNATURE, "https://\n" + SIGNATURE, "ftp:" + SIGNATURE])
def test_a_malformed_url_is_never_logged(caplog: pytest.LogCaptureFixture, url: str) -> None:
    sleeps: list[float] = []
    with caplog.at_level(logging.DEBUG):
        assert response.send_response(url, BODY, sleep=sleeps.append) is response.Delivery.UNDELIVERED
    assert SIGNATURE not in caplog.text


def test_unreachable_endpoint_is_bounded_too(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}/response?{SIGNATURE}"
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        assert response.send_response(url, BODY, sleep=sleeps.append) is response.Delivery.UNDELIVERED
    assert len(sleeps) == response.ATTEMPTS - 1
    assert SIGNATURE not in caplog.text and url not in caplog.text
