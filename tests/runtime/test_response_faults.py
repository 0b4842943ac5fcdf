"""Injected ResponseURL faults: refused answers with a probability, outages for a span of time, seeded."""

from __future__ import annotations

import random
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from copied_snapshot_local_cloud.clock import ScaledClock
from copied_snapshot_local_cloud.cloudformation.responses import ResponseEndpoint, ResponseFaults, refusal


def test_refusals_follow_the_seed_and_the_probability() -> None:
    faults = ResponseFaults(error_probability=0.3, seed=7)
    runs = [[refusal(faults, rng, 0.0) for _ in range(200)] for rng in (random.Random(7), random.Random(7))]
    assert runs[0] == runs[1]
    refused = sum(status is not None for status in runs[0])
    assert 30 < refused < 90
    assert all(refusal(ResponseFaults(), random.Random(1), 0.0) is None for _ in range(50))


def test_every_answer_is_refused_during_an_outage_and_none_after() -> None:
    faults = ResponseFaults(outages=((10.0, 20.0),))
    rng = random.Random(0)
    assert refusal(faults, rng, 9.9) is None
    assert refusal(faults, rng, 10.0) == 503
    assert refusal(faults, rng, 19.9) == 503
    assert refusal(faults, rng, 20.0) is None


def _put(url: str, ca_file: Path) -> int:
    context = ssl.create_default_context(cafile=str(ca_file))
    request = urllib.request.Request(url, data=b'{"Status": "SUCCESS"}', method="PUT")
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


class SetClock(ScaledClock):
    """Real-time waits, but a time of day the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 0.0

    def now(self) -> float:
        return self.at


def test_a_refused_answer_is_not_stored_and_the_next_delivery_is(tmp_path: Path) -> None:
    clock = SetClock()
    endpoint = ResponseEndpoint(tmp_path, faults=ResponseFaults(outages=((0.0, 5.0),)), clock=clock)
    endpoint.start()
    try:
        url = endpoint.url_for("request-1")
        assert _put(url, endpoint.ca_file) == 503
        assert endpoint.wait("request-1", 0.1) is None
        clock.at = 5.0
        assert _put(url, endpoint.ca_file) == 200
        answered = endpoint.wait("request-1", 1.0)
        assert answered is not None and answered[0]["Status"] == "SUCCESS"
        assert endpoint.refused == 1
    finally:
        endpoint.stop()
