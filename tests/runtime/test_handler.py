"""The handler's life cycle through crhelper, with botocore's Stubber for docdb-elastic and EventBridge."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from copied_snapshot_runtime import decisions, environment, invocation, outcomes, rules
from copied_snapshot_runtime import handler as copy_handler
from copied_snapshot_runtime.properties import parse_properties
from copied_snapshot_runtime.snapshots import SnapshotService
from tests.support.constants import ACCOUNT, REGION
from tests.support.handler_harness import (
    COPY_ARN,
    SIGNATURE,
    SOURCE_ARN,
    STACK_ID,
    Aws,
    CloudFormationEndpoint,
    Context,
    event,
    properties,
    snapshot,
    stubbed_clients,
)

NEW_ARN = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/copy-2"
DR_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/dr"


@pytest.fixture
def cfn() -> Iterator[CloudFormationEndpoint]:
    endpoint = CloudFormationEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for docdb, events, stubs in stubbed_clients():
        stubbed = SnapshotService(docdb, sleep=stubs.sleeps.append)

        def service(api: SnapshotService = stubbed) -> SnapshotService:
            return api

        monkeypatch.setattr(invocation, "service", service)
        monkeypatch.setattr(invocation.helper, "_events_client", events)
        monkeypatch.setattr(invocation.helper, "_lambda_client", None)  # never needed: see resource.py
        # Each invocation asks once (tests take one step at a time); test_polling_windows waits in-process.
        monkeypatch.setattr(invocation.helper, "wait_in_process", False)
        yield stubs
        stubs.docdb.assert_no_pending_responses()
        stubs.events.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every path the tests take is logged without the pre-signed ResponseURL or its signature."""
    yield
    assert SIGNATURE not in caplog.text
    assert "cloudformation-response" not in caplog.text


def invoke(message: dict[str, Any]) -> None:
    copy_handler.handler(message, Context())


def owner(props: dict[str, Any] | None = None, logical_id: str = "OrdersCopy") -> str:
    return decisions.owner_tag_value(STACK_ID, logical_id, parse_properties(props or properties()))


def expect_owned(aws: Aws, arn: str = COPY_ARN, props: dict[str, Any] | None = None) -> None:
    """The copy's tags name this resource (the fence Update and Delete check first)."""
    aws.expect_tags({"team": "data", rules.OWNER_TAG: owner(props)}, arn)


def expect_copy(
    aws: Aws,
    name: str = "orders-copy",
    arn: str = COPY_ARN,
    props: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    aws.docdb.add_response(
        "copy_cluster_snapshot",
        {"snapshot": snapshot("COPYING", arn=arn, name=name)},
        {
            "snapshotArn": SOURCE_ARN,
            "targetSnapshotName": name,
            "copyTags": False,
            "tags": {"team": "data", rules.OWNER_TAG: owner(props)},
            **extra,
        },
    )


def start_create(aws: Aws, cfn: CloudFormationEndpoint) -> dict[str, Any]:
    """A Create that started its copy and set up polling; returns the poll event."""
    aws.expect_source()
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    assert cfn.responses == []
    return aws.poll_event()


ATTRIBUTES = {
    "SnapshotArn": COPY_ARN,
    "SnapshotName": "orders-copy",
    "Status": "ACTIVE",
    "KmsKeyId": DR_KEY,
    "ClusterArn": f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/orders",
    "SnapshotCreationTime": "2026-11-27T10:00:00Z",
}


def test_create_copies_and_answers_once_the_copy_is_active(
    aws: Aws, cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    poll = start_create(aws, cfn)
    rule_name = next(params["Name"] for operation, params in aws.calls if operation == "PutRule")
    assert rule_name.startswith(environment.DEFAULT_POLL_RULE_PREFIX + "OrdersCopy")
    assert len(rule_name) <= 64

    aws.expect_get("COPYING")
    invoke(poll)
    assert cfn.responses == []

    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == COPY_ARN
    assert response["Data"] == ATTRIBUTES
    assert response["LogicalResourceId"] == "OrdersCopy"
    assert "lambda" not in " ".join(aws.operations()).lower()  # no AddPermission/RemovePermission
    assert "copy started" in caplog.text


def test_create_passes_key_and_copy_tags(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    props = properties(CopyTags="true", KmsKeyId=DR_KEY, Tags=[])
    aws.expect_source()
    aws.docdb.add_response(
        "copy_cluster_snapshot",
        {"snapshot": snapshot("COPYING")},
        {
            "snapshotArn": SOURCE_ARN,
            "targetSnapshotName": "orders-copy",
            "copyTags": True,
            "kmsKeyId": DR_KEY,
            "tags": {rules.OWNER_TAG: owner(props)},
        },
    )
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url, props))
    assert cfn.responses == []


def test_create_ending_in_a_failure_status_reports_the_copy_for_rollback(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    poll = start_create(aws, cfn)
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert COPY_ARN in response["Reason"] and "INACCESSIBLE_ENCRYPTION_CREDS" in response["Reason"]
    # The copy's own ARN, so that CloudFormation's rollback Delete removes it.
    assert response["PhysicalResourceId"] == COPY_ARN


def test_create_past_its_deadline_fails_and_stops_polling(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_create(aws, cfn)
    started = float(poll["CrHelperData"]["Deadline"]) - 1800
    monkeypatch.setattr(invocation, "clock", lambda: started + 1801)
    aws.expect_get("COPYING")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "not ACTIVE within 1800 seconds (status COPYING)" in response["Reason"]
    assert response["PhysicalResourceId"] == COPY_ARN


def test_create_with_invalid_properties_fails_before_any_call(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    invoke(event("Create", cfn.url, properties(TargetSnapshotName="orders--copy")))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "invalid target snapshot name 'orders--copy'" in response["Reason"]
    assert aws.calls == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ValidationException", 400),
        ("ServiceQuotaExceededException", 402),
        ("ResourceNotFoundException", 404),
    ],
)
def test_terminal_api_errors_fail_at_once_naming_snapshot_and_cause(
    aws: Aws, cfn: CloudFormationEndpoint, code: str, status: int
) -> None:
    aws.expect_source()
    aws.docdb.add_client_error("copy_cluster_snapshot", code, "the service's own words " + "x" * 5000, status)
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert (
        f"copying {SOURCE_ARN} to 'orders-copy' failed: {code}: the service's own words" in response["Reason"]
    )
    assert aws.sleeps == []  # not retried
    assert "PutRule" not in aws.operations()
    assert len(json.dumps(response)) < 4096


@pytest.mark.parametrize(
    ("error", "waits"),
    [
        (("ThrottlingException", 429, {"retry-after": "3"}), [3.0]),
        (("ThrottlingException", 429, {}), [1.0]),
        (("InternalServerException", 500, {}), [1.0]),
    ],
)
def test_passing_errors_are_retried_with_backoff(
    aws: Aws, cfn: CloudFormationEndpoint, error: tuple[str, int, dict[str, str]], waits: list[float]
) -> None:
    code, status, headers = error
    aws.expect_source()
    aws.docdb.add_client_error(
        "copy_cluster_snapshot", code, "busy", status, response_meta={"HTTPHeaders": headers}
    )
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    assert cfn.responses == []
    assert aws.sleeps == waits


def access_denied(aws: Aws, operation: str, times: int) -> None:
    for _ in range(times):
        aws.docdb.add_client_error(operation, "AccessDeniedException", "not authorized", 403)


def test_access_denied_early_in_a_create_is_asked_again_while_iam_propagates(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    aws.expect_source()
    access_denied(aws, "copy_cluster_snapshot", 3)
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    assert cfn.responses == []
    assert aws.sleeps == [1.0, 2.0, 4.0]
    assert aws.poll_event()["CrHelperData"][outcomes.STARTED] == 1000.0


def test_access_denied_that_lasts_fails_once_two_minutes_of_waiting_are_spent(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    access_denied(aws, "get_cluster_snapshot", 10)
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"reading source snapshot {SOURCE_ARN} failed: AccessDeniedException" in response["Reason"]
    assert aws.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0, 20.0]
    assert sum(aws.sleeps) <= decisions.IAM_PROPAGATION_SECONDS


@pytest.mark.parametrize(("seconds_later", "sleeps"), [(60.0, [1.0]), (121.0, None)])
def test_access_denied_in_a_poll_is_asked_again_only_within_two_minutes_of_the_first_invocation(
    aws: Aws,
    cfn: CloudFormationEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    seconds_later: float,
    sleeps: list[float] | None,
) -> None:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    poll = start_create(aws, cfn)
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + seconds_later)
    access_denied(aws, "get_cluster_snapshot", 1)
    if sleeps is not None:
        aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    if sleeps is None:
        assert response["Status"] == "FAILED"
        assert f"reading copy {COPY_ARN} failed: AccessDeniedException" in response["Reason"]
        assert aws.sleeps == []
    else:
        assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
        assert aws.sleeps == sleeps


def test_access_denied_in_an_update_fails_at_once(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    expect_owned(aws)
    access_denied(aws, "untag_resource", 1)
    old = properties(Tags=[{"Key": "old", "Value": "x"}])
    invoke(event("Update", cfn.url, properties(), physical_id=COPY_ARN, old_props=old))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "AccessDeniedException" in response["Reason"]
    assert aws.sleeps == []


def test_throttling_that_never_ends_fails_a_create_once_its_invocation_can_wait_no_longer(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    aws.expect_source()
    for _ in range(16):
        aws.docdb.add_client_error("copy_cluster_snapshot", "ThrottlingException", "slow down", 429)
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "ThrottlingException" in response["Reason"]
    # The 300 s invocation keeps 60 s for its answer: its calls wait up to 240 s, 20 s at most at a time.
    assert aws.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0] + [20.0] * 10


def test_a_poll_meeting_passing_errors_tries_again_next_minute(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    poll = start_create(aws, cfn)
    for _ in range(5):
        aws.docdb.add_client_error("get_cluster_snapshot", "InternalServerException", "oops", 500)
    invoke(poll)
    assert cfn.responses == []  # still polling
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_a_poll_refused_for_good_reports_the_copy_for_rollback(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    poll = start_create(aws, cfn)
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + decisions.IAM_PROPAGATION_SECONDS + 1)
    aws.docdb.add_client_error("get_cluster_snapshot", "AccessDeniedException", "not allowed", 403)
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"reading copy {COPY_ARN} failed: AccessDeniedException: not allowed" in response["Reason"]
    assert response["PhysicalResourceId"] == COPY_ARN  # the rollback's Delete removes the copy


def test_properties_of_an_older_construct_still_create(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    """Written before NameGenerated, CopyTags and TimeoutSeconds existed: defaults apply."""
    props = {"ServiceToken": "token", "SourceSnapshotArn": SOURCE_ARN, "TargetSnapshotName": "orders-copy"}
    aws.expect_source()
    aws.docdb.add_response(
        "copy_cluster_snapshot",
        {"snapshot": snapshot("COPYING")},
        {
            "snapshotArn": SOURCE_ARN,
            "targetSnapshotName": "orders-copy",
            "copyTags": False,
            "tags": {rules.OWNER_TAG: owner(props)},
        },
    )
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url, props))
    assert cfn.responses == []
    assert aws.poll_event()["CrHelperData"]["TimeoutSeconds"] == 3300


@pytest.mark.parametrize(
    ("timeout", "reason"),
    [
        ("7200", "TimeoutSeconds (the CopiedSnapshot timeout) must be 60 to 3300 seconds"),
        ("1800.5", "TimeoutSeconds (the CopiedSnapshot timeout) must be a whole number of seconds"),
    ],
)
def test_a_timeout_known_only_at_deploy_time_is_range_checked_before_any_call(
    aws: Aws, cfn: CloudFormationEndpoint, timeout: str, reason: str
) -> None:
    """A timeout given as a token passes synth unchecked; the handler holds it to the same range."""
    invoke(event("Create", cfn.url, properties(TimeoutSeconds=timeout)))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert reason in response["Reason"]
    assert aws.calls == []


@pytest.mark.parametrize(
    "source",
    [
        f"arn:aws:docdb-elastic:us-west-2:{ACCOUNT}:cluster-snapshot/source-1",
        f"arn:aws:docdb-elastic:{REGION}:210987654321:cluster-snapshot/source-1",
    ],
)
def test_a_source_of_another_region_or_account_is_refused_before_any_call(
    aws: Aws, cfn: CloudFormationEndpoint, source: str
) -> None:
    invoke(event("Create", cfn.url, properties(SourceSnapshotArn=source)))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert response["Reason"] == rules.place_problem(source, region=REGION, account=ACCOUNT)
    assert response["Reason"].startswith(f"source snapshot {source} is in ")
    assert "(DocumentDB Developer Guide: Copying an elastic cluster snapshot)" in response["Reason"]
    assert aws.calls == []


def test_a_replacement_from_a_source_of_another_region_is_refused_before_any_call(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    source = f"arn:aws:docdb-elastic:eu-west-1:{ACCOUNT}:cluster-snapshot/source-1"
    new = properties(SourceSnapshotArn=source, TargetSnapshotName="orders-copy-v2")
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=properties()))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"source snapshot {source} is in region eu-west-1, not {REGION}" in response["Reason"]
    assert response["PhysicalResourceId"] == COPY_ARN
    assert aws.calls == []


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        (properties(TargetSnapshotName="abc\n"), "invalid target snapshot name 'abc\\n'"),
        (properties(Tags=[{"Key": "key\n", "Value": "v"}]), "tag key 'key\\n' must match"),
        (
            properties(SourceSnapshotArn=SOURCE_ARN.replace("arn:aws:", "arn:awsfoo:")),
            "invalid source snapshot ARN 'arn:awsfoo:",
        ),
    ],
)
def test_values_valid_only_up_to_a_final_newline_or_prefix_are_refused_before_any_call(
    aws: Aws, cfn: CloudFormationEndpoint, props: dict[str, Any], reason: str
) -> None:
    invoke(event("Create", cfn.url, props))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert reason in response["Reason"]
    assert aws.calls == []


def test_a_missing_source_fails_clearly(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    aws.expect_gone(SOURCE_ARN)
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"source snapshot {SOURCE_ARN} does not exist" in response["Reason"]


def name_in_use(aws: Aws, owner_tag: str | None) -> None:
    aws.expect_source()
    aws.docdb.add_client_error("copy_cluster_snapshot", "ConflictException", "name in use", 409)
    aws.docdb.add_response(
        "list_cluster_snapshots",
        {
            "snapshots": [
                {
                    "clusterArn": "c",
                    "snapshotArn": NEW_ARN,
                    "snapshotCreationTime": "t",
                    "snapshotName": "other",
                    "status": "ACTIVE",
                }
            ],
            "nextToken": "page-2",
        },
        {},
    )
    aws.docdb.add_response(
        "list_cluster_snapshots",
        {
            "snapshots": [
                {
                    "clusterArn": "c",
                    "snapshotArn": COPY_ARN,
                    "snapshotCreationTime": "t",
                    "snapshotName": "Orders-Copy",
                    "status": "COPYING",
                }
            ]
        },
        {"nextToken": "page-2"},
    )
    tags = {"team": "data"} if owner_tag is None else {"team": "data", rules.OWNER_TAG: owner_tag}
    aws.docdb.add_response("list_tags_for_resource", {"tags": tags}, {"resourceArn": COPY_ARN})


def test_a_create_delivered_twice_adopts_its_own_copy(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    name_in_use(aws, owner())
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    assert cfn.responses == []
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert aws.operations().count("CopyClusterSnapshot") == 1


@pytest.mark.parametrize(
    ("owner_tag", "named"),
    [
        (None, "no CopiedSnapshot (it has no copied-snapshot:owner tag)"),
        (owner(logical_id="OtherCopy"), "CopiedSnapshot SnapshotCopyStack/OtherCopy"),
    ],
)
def test_a_name_held_by_anything_else_fails_naming_the_owner(
    aws: Aws, cfn: CloudFormationEndpoint, owner_tag: str | None, named: str
) -> None:
    name_in_use(aws, owner_tag)
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"name in use: snapshot {COPY_ARN} already holds the name 'orders-copy'" in response["Reason"]
    assert named in response["Reason"]
    # The other snapshot is reported under no physical id of ours: the rollback will not delete it.
    assert response["PhysicalResourceId"] != COPY_ARN
    assert "DeleteClusterSnapshot" not in aws.operations()


def test_properties_never_overflow_the_polling_target_input(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    tags = [{"Key": f"{i:02d}" + "k" * 126, "Value": "v" * 256} for i in range(rules.MAX_USER_TAGS)]
    props = properties(Tags=tags)
    assert len(json.dumps(props)) > 8192
    aws.expect_source()
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING")})
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url, props))
    [target] = next(params for operation, params in aws.calls if operation == "PutTargets")["Targets"]
    assert len(target["Input"]) <= 8192
    assert "ResourceProperties" not in json.loads(target["Input"])
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"


def test_a_hundred_copies_share_one_handler_without_permission_edits(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    polls = []
    for index in range(100):
        aws.expect_source()
        aws.docdb.add_response(
            "copy_cluster_snapshot", {"snapshot": snapshot("COPYING", arn=f"{COPY_ARN}{index}")}
        )
        aws.expect_polling_setup()
        message = event("Create", cfn.url, properties(TargetSnapshotName=f"copy-{index}"))
        message["LogicalResourceId"] = f"Copy{index}"
        invoke(message)
        polls.append(aws.poll_event())
    for index, poll in enumerate(polls):
        aws.expect_get("ACTIVE", arn=f"{COPY_ARN}{index}")
        aws.expect_polling_teardown()
        invoke(poll)
    assert [response["Status"] for response in cfn.responses] == ["SUCCESS"] * 100
    operations = aws.operations()
    assert operations.count("PutRule") == operations.count("DeleteRule") == 100
    assert operations.count("RemoveTargets") == 100
    rule_names = {params["Name"] for operation, params in aws.calls if operation == "PutRule"}
    assert len(rule_names) == 100


def test_delete_removes_the_copy_and_waits_until_it_is_gone(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    expect_owned(aws)
    aws.expect_delete()
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    assert cfn.responses == []
    aws.expect_get("DELETING")
    invoke(aws.poll_event())
    assert cfn.responses == []
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_delete_of_a_copy_still_copying_is_retried_until_it_takes(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    expect_owned(aws)
    aws.expect_delete_refused("ConflictException", 409)
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    assert cfn.responses == []
    aws.expect_get("COPYING")
    aws.expect_delete_refused("ConflictException", 409)
    invoke(aws.poll_event())
    assert cfn.responses == []
    aws.expect_get("ACTIVE")
    aws.expect_delete()
    invoke(aws.poll_event())
    aws.expect_get("DELETING")
    invoke(aws.poll_event())
    assert cfn.responses == []
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert aws.operations().count("DeleteClusterSnapshot") == 3


def test_delete_still_busy_at_the_deadline_fails_clearly(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_owned(aws)
    aws.expect_delete_refused("ConflictException", 409)
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    poll = aws.poll_event()
    started = float(poll["CrHelperData"]["Deadline"]) - 1800
    monkeypatch.setattr(invocation, "clock", lambda: started + 1801)
    aws.expect_get("COPYING")
    aws.expect_delete_refused("ConflictException", 409)
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert (
        f"snapshot {COPY_ARN} was still COPYING and refused deletion as busy after 1800 seconds"
        in (response["Reason"])
    )


def test_delete_of_a_copy_already_gone_succeeds_at_once(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    aws.expect_tags(None)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert aws.operations() == ["ListTagsForResource"]


def test_delete_of_a_copy_gone_between_the_tags_and_the_delete_succeeds_at_once(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    expect_owned(aws)
    aws.expect_delete_refused("ResourceNotFoundException", 404)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert aws.operations() == ["ListTagsForResource", "DeleteClusterSnapshot"]


@pytest.mark.parametrize(
    "physical_id",
    [
        "SnapshotCopyStack_OrdersCopy_K3J5H2QZ",  # crhelper's id after a failed create
        f"arn:aws:docdb-elastic:us-west-2:{ACCOUNT}:cluster-snapshot/copy-1",  # another region
        f"arn:aws:docdb-elastic:{REGION}:210987654321:cluster-snapshot/copy-1",  # another account
    ],
)
def test_delete_of_anything_not_ours_makes_no_call(
    aws: Aws, cfn: CloudFormationEndpoint, physical_id: str
) -> None:
    invoke(event("Delete", cfn.url, properties(TargetSnapshotName="bad--name"), physical_id=physical_id))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", physical_id)
    assert aws.calls == []


def test_update_of_tags_is_made_in_place(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    old = properties(Tags=[{"Key": "team", "Value": "data"}, {"Key": "old", "Value": "x"}])
    new = properties(
        Tags=[{"Key": "team", "Value": "platform"}, {"Key": "new", "Value": "y"}], TimeoutSeconds="600"
    )
    expect_owned(aws)
    aws.docdb.add_response("untag_resource", {}, {"resourceArn": COPY_ARN, "tagKeys": ["old"]})
    aws.docdb.add_response(
        "tag_resource", {}, {"resourceArn": COPY_ARN, "tags": {"team": "platform", "new": "y"}}
    )
    aws.expect_get("ACTIVE")
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert response["Data"] == ATTRIBUTES
    assert "PutRule" not in aws.operations()


def expect_current_owner(aws: Aws, owner_tag: str, arn: str = COPY_ARN) -> None:
    aws.docdb.add_response(
        "list_tags_for_resource", {"tags": {rules.OWNER_TAG: owner_tag}}, {"resourceArn": arn}
    )


def test_update_that_needs_a_new_copy_returns_its_arn(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    old, new = properties(), properties(TargetSnapshotName="orders-copy-v2")
    expect_current_owner(aws, owner(old))
    aws.expect_source()
    expect_copy(aws, name="orders-copy-v2", arn=NEW_ARN, props=new)
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    aws.expect_get("ACTIVE", arn=NEW_ARN)
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", NEW_ARN)


def test_replacing_a_generated_name_gets_a_new_name(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    old = properties(NameGenerated="true")
    new = properties(NameGenerated="true", CopyTags="true")
    expect_current_owner(aws, owner(old))
    aws.expect_source()
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING")})
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    [(_, params)] = [call for call in aws.calls if call[0] == "CopyClusterSnapshot"]
    assert params["targetSnapshotName"].startswith("orders-copy-")
    assert params["targetSnapshotName"] != "orders-copy"


def test_replacing_under_the_same_chosen_name_fails_with_advice(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    expect_current_owner(aws, owner())
    invoke(
        event("Update", cfn.url, properties(CopyTags="true"), physical_id=COPY_ARN, old_props=properties())
    )
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "change target_snapshot_name" in response["Reason"]
    assert "CopyClusterSnapshot" not in aws.operations()


def test_failed_replacement_copy_is_deleted_not_leaked(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    expect_current_owner(aws, owner())
    aws.expect_source()
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING", arn=NEW_ARN)})
    aws.expect_polling_setup()
    invoke(
        event(
            "Update",
            cfn.url,
            properties(TargetSnapshotName="v2"),
            physical_id=COPY_ARN,
            old_props=properties(),
        )
    )
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS", arn=NEW_ARN)
    aws.expect_delete(NEW_ARN)
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert NEW_ARN in response["Reason"]
    # The resource stays the old copy; the failed new one was deleted above.
    assert response["PhysicalResourceId"] == COPY_ARN


ORIGINAL = properties(Tags=[{"Key": "team", "Value": "data"}])
REFUSED = properties(TargetSnapshotName="v2", Tags=[{"Key": "team", "Value": "data"}])


def expect_names(aws: Aws, *snapshots: tuple[str, str, str]) -> None:
    """ListClusterSnapshots finding these (name, ARN, status)."""
    summaries = [
        {
            "clusterArn": "c",
            "snapshotArn": arn,
            "snapshotName": name,
            "snapshotCreationTime": "t",
            "status": status,
        }
        for name, arn, status in snapshots
    ]
    aws.docdb.add_response("list_cluster_snapshots", {"snapshots": summaries}, {})


def replacement_found(aws: Aws, status: str, owner_tag: str) -> None:
    """The rollback's first calls: the kept copy, then a snapshot under the refused name and its owner tag."""
    expect_current_owner(aws, owner(ORIGINAL))
    aws.expect_get("ACTIVE")
    expect_names(aws, ("v2", NEW_ARN, status))
    expect_current_owner(aws, owner_tag, arn=NEW_ARN)


def rollback_update(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    """CloudFormation rolls back with old and new swapped; the copy already is what `new` asks for."""
    invoke(event("Update", cfn.url, ORIGINAL, physical_id=COPY_ARN, old_props=REFUSED))


def test_the_rollback_update_after_a_failed_replacement_keeps_the_copy(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    expect_current_owner(aws, owner(ORIGINAL))
    aws.expect_get("ACTIVE")
    expect_names(aws, ("orders-copy", COPY_ARN, "ACTIVE"))  # the failed replacement is gone already
    rollback_update(aws, cfn)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert "CopyClusterSnapshot" not in aws.operations()
    assert "DeleteClusterSnapshot" not in aws.operations()


def test_the_rollback_update_deletes_the_replacement_that_failed(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    replacement_found(aws, "ACTIVE", owner(REFUSED))
    aws.expect_delete(arn=NEW_ARN)
    rollback_update(aws, cfn)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_the_rollback_update_waits_until_a_replacement_still_copying_can_be_deleted(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """The replacement failed because it took longer than the timeout: it can be deleted only once done."""
    replacement_found(aws, "COPYING", owner(REFUSED))
    aws.expect_delete_refused("ConflictException", 409, arn=NEW_ARN)
    aws.expect_polling_setup()
    rollback_update(aws, cfn)
    assert cfn.responses == []
    poll = aws.poll_event()
    aws.expect_delete_refused("ConflictException", 409, arn=NEW_ARN)
    aws.expect_get("ACTIVE")
    invoke(poll)
    assert cfn.responses == []
    aws.expect_delete(arn=NEW_ARN)
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_the_rollback_update_leaves_a_snapshot_of_that_name_it_did_not_make(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    replacement_found(aws, "ACTIVE", owner(ORIGINAL))  # this resource's, but not from `REFUSED`
    rollback_update(aws, cfn)
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert "DeleteClusterSnapshot" not in aws.operations()


def test_the_rollback_update_after_refused_tags_restores_them(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    original = properties(Tags=[{"Key": "team", "Value": "data"}])
    refused = properties(Tags=[{"Key": "aws:team", "Value": "x"}, {"Key": "team", "Value": "y" * 300}])
    expect_owned(aws)
    aws.docdb.add_response("untag_resource", {}, {"resourceArn": COPY_ARN, "tagKeys": ["aws:team"]})
    aws.docdb.add_response("tag_resource", {}, {"resourceArn": COPY_ARN, "tags": {"team": "data"}})
    aws.expect_get("ACTIVE")
    invoke(event("Update", cfn.url, original, physical_id=COPY_ARN, old_props=refused))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_logs_are_json_at_info(
    aws: Aws, cfn: CloudFormationEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    stream = logging.StreamHandler()
    root.addHandler(stream)
    try:
        expect_owned(aws)
        aws.expect_delete_refused("ResourceNotFoundException", 404)
        invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    finally:
        root.removeHandler(stream)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines, "the handler logged nothing"
    assert all(line["level"] in ("INFO", "WARNING", "ERROR") for line in lines)
    assert all(
        line["RequestType"] == "Delete" and line["LogicalResourceId"] == "OrdersCopy" for line in lines
    )
    assert any(
        isinstance(line["message"], dict) and line["message"].get("SnapshotArn") == COPY_ARN for line in lines
    )
    assert SIGNATURE not in json.dumps(lines)
