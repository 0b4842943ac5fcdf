"""In-process polling: answers within seconds of the copy's end, no two invocations waiting on one request, no
request answered twice, and throttling that slows Creates down instead of failing them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.docdb_elastic.state import Durations
from copied_snapshot_runtime import copies, decisions, invocation, outcomes, polling, properties
from copied_snapshot_runtime import handler as copy_handler
from copied_snapshot_runtime.request import parse_request
from copied_snapshot_runtime.snapshots import SnapshotService
from tests.local_cloud import test_e2e as e2e
from tests.runtime import test_handler
from tests.runtime.test_handler import ATTRIBUTES, expect_copy, expect_owned
from tests.support.constants import ACCOUNT, REGION
from tests.support.handler_harness import (
    COPY_ARN,
    Aws,
    CloudFormationEndpoint,
    Context,
    event,
)
from tests.support.handler_harness import properties as copy_properties
from tests.support.local_service import Served

cfn = test_handler.cfn
no_secret_in_logs = test_handler.no_secret_in_logs

RULE_PUT = 1_800_000_000.0


# The window, as pure rules ------------------------------------------------------------------------------


def asks_within(started: float, interval: float, end: float) -> list[float]:
    """When an invocation asks in-process (it asked once at `started`)."""
    asks, last = [], started
    while (at := polling.next_ask(last, interval, end)) is not None:
        asks.append(at)
        last = at
    return asks


@pytest.mark.parametrize("interval", [5, 6, 13, 30, 45, 60])
@pytest.mark.parametrize("remaining", [10.0, 70.0, 100.0, 300.0, 900.0])
@pytest.mark.parametrize("late", [-4.9, 0.0, 0.4, 3.0, 15.0, 44.0, 54.9])
@pytest.mark.parametrize("firing", [0, 1, 7])
def test_a_window_ends_before_the_next_firing_and_before_the_invocation_ends(
    interval: int, remaining: float, late: float, firing: int
) -> None:
    """Firing 0 is the first invocation (at the rule's put); a poll may run early or late (EventBridge and
    Lambda's queue are not exact): whichever firing it stands for, no other firing comes before its window
    ends with a margin."""
    started = RULE_PUT + firing * polling.RULE_RATE_SECONDS + late
    end = polling.window_end(RULE_PUT, started, remaining)
    firings = [RULE_PUT + k * polling.RULE_RATE_SECONDS for k in range(1, firing + 3)]
    assert not [t for t in firings if started + polling.EARLY_FIRING_SECONDS < t <= end]
    assert all(end <= t - polling.NEXT_FIRING_MARGIN_SECONDS for t in firings if t > started + 5)
    assert end <= started + remaining - decisions.INVOCATION_MARGIN_SECONDS
    asks = asks_within(started, interval, end)
    assert all(ask <= end for ask in asks)
    assert len(asks) + 1 <= 12  # its first ask included: at most 12 asks per firing (a minute)
    gaps = [later - earlier for earlier, later in zip([started, *asks], asks, strict=False)]
    assert all(gap >= interval for gap in gaps[:-1])
    assert not gaps or gaps[-1] >= polling.LAST_ASK_MIN_GAP * interval  # the last may be at the end


def test_a_poll_set_up_without_the_rule_time_waits_50_seconds_from_its_start() -> None:
    assert polling.window_end(None, 100.0, 300.0) == 150.0
    assert asks_within(100.0, 5, 150.0) == [105.0 + 5 * k for k in range(10)]


def test_the_last_ask_is_at_the_windows_end_unless_that_is_too_soon_after_the_one_before() -> None:
    assert asks_within(100.0, 7, 150.0) == [107.0, 114.0, 121.0, 128.0, 135.0, 142.0, 149.0]  # 1 s: skipped
    assert asks_within(100.0, 13, 150.0) == [113.0, 126.0, 139.0, 150.0]  # 11 s after the one before


def test_an_interval_is_a_whole_number_of_seconds_from_5_to_60() -> None:
    assert polling.parse_interval("7") == 7
    for refused in ("4", "61", "2.5", "soon", None):
        with pytest.raises(polling.InvalidInterval, match="polling"):
            polling.parse_interval(refused)
    assert polling.interval_or_default(None) == polling.DEFAULT_INTERVAL_SECONDS
    assert polling.interval_or_default("3") == polling.DEFAULT_INTERVAL_SECONDS


def test_the_handler_refuses_a_polling_interval_out_of_range() -> None:
    assert properties.parse_properties(copy_properties(PollingInterval="10")).polling_interval == 10
    with pytest.raises(properties.InvalidProperties, match="PollingInterval"):
        properties.parse_properties(copy_properties(PollingInterval="4"))


# The handler, waiting in-process on a clock that sleeps advance ------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = RULE_PUT
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


aws = test_handler.aws


@pytest.fixture(autouse=True)
def waiting_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler tests' stubs (set up first), with in-process waiting on as deployed."""
    if "aws" in request.fixturenames:
        request.getfixturevalue("aws")
        monkeypatch.setattr(invocation.helper, "wait_in_process", True)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(invocation, "clock", fake.clock)
    monkeypatch.setattr(invocation, "sleep", fake.sleep)
    return fake


def invoke(message: dict[str, Any]) -> None:
    copy_handler.handler(message, Context())


def expect_start(aws: Aws) -> None:
    """A Create's calls up to its first in-process ask."""
    aws.expect_source()
    expect_copy(aws)
    aws.expect_polling_setup()


def create(cfn: CloudFormationEndpoint, **props: Any) -> None:
    invoke(event("Create", cfn.url, copy_properties(**props)))


def test_a_create_is_answered_by_its_first_invocation_at_the_first_ask_after_active(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    expect_start(aws)
    aws.expect_get("COPYING")
    aws.expect_get("COPYING")
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    create(cfn)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert response["Data"] == ATTRIBUTES
    assert fake_time.sleeps == [5.0, 5.0, 5.0]
    # The rule was checked just before answering: no other invocation had answered meanwhile.
    assert aws.operations()[-4:] == ["GetClusterSnapshot", "ListTargetsByRule", "RemoveTargets", "DeleteRule"]
    [ended] = [record.msg for record in caplog.records if "invocation ended" in str(record.msg)]
    assert ended == {
        "message": "invocation ended",
        "Calls": {"get_cluster_snapshot": 4, "copy_cluster_snapshot": 1},  # the source, then 3 asks
        "Asks": 3,
        "Seconds": 15.0,
    }


def test_a_window_without_an_answer_ends_before_the_next_firing_and_that_poll_goes_on(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_start(aws)
    for _ in range(10):  # at 5, 10, ... 50 s after the rule was put
        aws.expect_get("COPYING")
    create(cfn)
    assert cfn.responses == []
    assert fake_time.now == RULE_PUT + 50
    poll = aws.poll_event()
    assert poll["CrHelperData"][outcomes.RULE_PUT_AT] == RULE_PUT
    assert poll["CrHelperData"][outcomes.INTERVAL] == 5

    fake_time.now = RULE_PUT + 61.0  # the first firing, a second late
    for _ in range(4):
        aws.expect_get("COPYING")
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert fake_time.now == RULE_PUT + 81.0  # ACTIVE seen at the fourth ask after the poll's own


def test_the_polling_interval_spaces_the_asks(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_start(aws)
    for _ in range(7):  # at 7, 14, ... 49 s
        aws.expect_get("COPYING")
    create(cfn, PollingInterval="7")
    assert fake_time.sleeps == [7.0] * 7
    assert aws.poll_event()["CrHelperData"][outcomes.INTERVAL] == 7


def test_a_firing_already_scheduled_after_an_in_process_answer_exits_quietly(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_start(aws)
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    create(cfn)
    poll = aws.poll_event()
    aws.rule = "gone"  # the answer removed it; its firing was already on its way
    fake_time.now = RULE_PUT + 60
    invoke(poll)
    assert len(cfn.responses) == 1
    assert aws.operations()[-1] == "ListTargetsByRule"


def test_an_answer_found_after_another_invocation_answered_is_not_sent_again(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_start(aws)
    aws.expect_get("COPYING")
    aws.expect_get("ACTIVE")
    aws.rule = "no target"  # another invocation answered while this one waited
    create(cfn)
    assert cfn.responses == []
    assert "RemoveTargets" not in aws.operations()


def test_a_failure_found_in_process_is_answered_and_ends_polling(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_start(aws)
    aws.expect_get("COPYING")
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS")
    aws.expect_polling_teardown()
    create(cfn)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", COPY_ARN)
    assert "will not become ACTIVE" in response["Reason"]
    assert response["Data"] == {}


def test_a_delete_is_answered_at_the_first_ask_after_the_copy_is_gone(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    expect_owned(aws)
    aws.expect_delete()
    aws.expect_polling_setup()
    aws.expect_get("DELETING")
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert fake_time.sleeps == [5.0, 5.0]


def test_an_invocation_with_little_time_left_does_not_wait(
    aws: Aws, cfn: CloudFormationEndpoint, fake_time: FakeTime
) -> None:
    aws.expect_source()
    expect_copy(aws)
    aws.expect_polling_setup()
    copy_handler.handler(event("Create", cfn.url), Context(remaining_millis=62_000))
    assert fake_time.sleeps == []  # 62 s left, 60 kept for the answer: no ask worth its call in 2 s
    assert cfn.responses == []


# Throttling: many Creates at once share the account's request rate --------------------------------------


class FastClock:
    """The local service's time, running `scale` times faster than the wall clock."""

    scale = 20.0

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return RULE_PUT + (time.monotonic() - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.scale)


@pytest.fixture
def local_docdb_elastic_options() -> dict[str, Any]:
    return {"seed": 1, "clock": FastClock()}


def test_twenty_creates_at_once_under_two_requests_a_second_all_start_their_copy(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock: Any = served.clock
    monkeypatch.setattr(invocation, "clock", clock.now)
    api = SnapshotService(served.client, sleep=clock.sleep)
    monkeypatch.setattr(invocation, "service", lambda: api)
    source = served.seed_snapshot("source")
    served.service.faults.throttle("*", rate=2, burst=2, now=clock.now())
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    results: dict[int, Any] = {}

    def create(index: int) -> None:
        message = event("Create", "https://example.invalid/answer")
        message["RequestId"] = f"create-{index}"
        message["ResourceProperties"] = copy_properties(
            SourceSnapshotArn=source, TargetSnapshotName=f"copy-{index}"
        )
        try:
            results[index] = copies.create(parse_request(message), Context(invoked_function_arn=arn))
        except Exception as error:  # what the handler would answer FAILED
            results[index] = error

    threads = [threading.Thread(target=create, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = {
        index: str(result) for index, result in results.items() if not isinstance(result, outcomes.Started)
    }
    assert failed == {}
    assert len(results) == 20


# End to end on the local cloud, its clock simulated ------------------------------------------------------


def test_on_the_local_cloud_a_copy_and_its_deletion_are_answered_within_seconds(tmp_path: Path) -> None:
    """The real bundled handler: the copy takes 22 simulated seconds, the deletion 12; both answers come
    from the first invocation's in-process asks (a worker's sleeps are slept on the local cloud's clock)."""
    durations = Durations(cluster=0, snapshot=0, copy=22, delete=12)
    assembly = e2e.synth(tmp_path, "PollingE2e", e2e.copy_of())
    with LocalCloud(
        tmp_path / "cloud", time_scale=1.0, simulated=True, durations=durations, order=Order.hostile()
    ) as cloud:
        cloud.seed_source_snapshot(e2e.SOURCE, encrypted=False)
        cloud.deploy(assembly)
        assert cloud.engine.destroy("PollingE2e")
        report = cloud.report()
    create, delete = report.timelines
    assert create.copy_active is not None and create.response_received is not None
    assert 0 <= create.response_received - create.copy_active <= 6  # the next 5-second ask, and its answer
    assert delete.copy_gone is not None and delete.response_received is not None
    assert 0 <= delete.response_received - delete.copy_gone <= 5
    assert [entry["trigger"] for entry in report.invocations] == ["cloudformation", "cloudformation"]
