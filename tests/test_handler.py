"""The handler's life cycle through crhelper, with botocore's Stubber for docdb-elastic and EventBridge."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from copied_snapshot_runtime import environment
from copied_snapshot_runtime import handler as copy_handler
from copied_snapshot_runtime.snapshots import SnapshotService
from tests.handler_harness import (
    ACCOUNT,
    COPY_ARN,
    REGION,
    SIGNATURE,
    SOURCE_ARN,
    Aws,
    CloudFormationEndpoint,
    Context,
    event,
    properties,
    snapshot,
    stubbed_clients,
)


@pytest.fixture
def cfn() -> Iterator[CloudFormationEndpoint]:
    endpoint = CloudFormationEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for docdb, events, stubs in stubbed_clients():
        monkeypatch.setattr(copy_handler, "_service", SnapshotService(docdb))
        monkeypatch.setattr(copy_handler.helper, "_events_client", events)
        monkeypatch.setattr(copy_handler.helper, "_lambda_client", None)  # never needed: see resource.py
        yield stubs
        stubs.docdb.assert_no_pending_responses()
        stubs.events.assert_no_pending_responses()


def invoke(message: dict[str, Any]) -> None:
    copy_handler.handler(message, Context())


def expect_copy(aws: Aws, name: str = "orders-copy", arn: str = COPY_ARN, **extra: Any) -> None:
    aws.docdb.add_response(
        "copy_cluster_snapshot",
        {"snapshot": snapshot("COPYING", arn=arn, name=name)},
        {
            "snapshotArn": SOURCE_ARN,
            "targetSnapshotName": name,
            "copyTags": False,
            "tags": {"team": "data"},
            **extra,
        },
    )


ATTRIBUTES = {
    "SnapshotArn": COPY_ARN,
    "SnapshotName": "orders-copy",
    "Status": "ACTIVE",
    "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/dr",
    "ClusterArn": f"arn:aws:docdb-elastic:us-west-2:{ACCOUNT}:cluster/orders",
    "SnapshotCreationTime": "2026-11-27T10:00:00Z",
}


def test_create_copies_and_answers_once_the_copy_is_active(
    aws: Aws, cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    assert cfn.responses == []  # still copying: CloudFormation waits

    rule_name = next(params["Name"] for operation, params in aws.calls if operation == "PutRule")
    assert rule_name.startswith(environment.DEFAULT_POLL_RULE_PREFIX + "OrdersCopy")
    assert len(rule_name) <= 64

    aws.expect_get("COPYING")
    invoke(aws.poll_event())
    assert cfn.responses == []

    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == COPY_ARN
    assert response["Data"] == ATTRIBUTES
    assert response["LogicalResourceId"] == "OrdersCopy"

    assert "lambda" not in " ".join(aws.operations()).lower()  # no AddPermission/RemovePermission
    assert SIGNATURE not in caplog.text and cfn.url not in caplog.text
    assert "copy started" in caplog.text


def test_create_passes_key_and_copy_tags(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/dr"
    aws.docdb.add_response(
        "copy_cluster_snapshot",
        {"snapshot": snapshot("COPYING")},
        {"snapshotArn": SOURCE_ARN, "targetSnapshotName": "orders-copy", "copyTags": True, "kmsKeyId": key},
    )
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url, properties(CopyTags="true", KmsKeyId=key, Tags=[])))
    assert cfn.responses == []


def test_create_ending_in_a_failure_status_reports_the_copy_for_rollback(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS")
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert COPY_ARN in response["Reason"] and "INACCESSIBLE_ENCRYPTION_CREDS" in response["Reason"]
    # The copy's own ARN, so that CloudFormation's rollback Delete removes it.
    assert response["PhysicalResourceId"] == COPY_ARN


def test_create_past_its_deadline_fails_and_stops_polling(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_copy(aws)
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url))
    poll = aws.poll_event()
    started = float(poll["CrHelperData"]["Deadline"]) - 1800
    monkeypatch.setattr(copy_handler, "clock", lambda: started + 1801)
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


def test_create_refused_by_the_api_fails_with_its_message(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    aws.docdb.add_client_error(
        "copy_cluster_snapshot", "ServiceQuotaExceededException", "manual snapshot quota reached", 402
    )
    invoke(event("Create", cfn.url))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "ServiceQuotaExceededException" in response["Reason"]
    assert "manual snapshot quota reached" in response["Reason"]
    assert "PutRule" not in aws.operations()


def test_delete_removes_the_copy_and_waits_until_it_is_gone(aws: Aws, cfn: CloudFormationEndpoint) -> None:
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
    aws.expect_delete_refused("ConflictException", 409)
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    poll = aws.poll_event()
    started = float(poll["CrHelperData"]["Deadline"]) - 1800
    monkeypatch.setattr(copy_handler, "clock", lambda: started + 1801)
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
    aws.expect_delete_refused("ResourceNotFoundException", 404)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)
    assert aws.operations() == ["DeleteClusterSnapshot"]


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


def test_update_that_needs_a_new_copy_returns_its_arn(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    new_arn = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/copy-2"
    old = properties()
    new = properties(TargetSnapshotName="orders-copy-v2")
    expect_copy(aws, name="orders-copy-v2", arn=new_arn)
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    aws.expect_get("ACTIVE", arn=new_arn)
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", new_arn)


def test_replacing_a_generated_name_gets_a_new_name(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    old = properties(NameGenerated="true")
    new = properties(NameGenerated="true", CopyTags="true")
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING")})
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    [(_, params)] = [call for call in aws.calls if call[0] == "CopyClusterSnapshot"]
    assert params["targetSnapshotName"].startswith("orders-copy-")
    assert params["targetSnapshotName"] != "orders-copy"


def test_replacing_under_the_same_chosen_name_fails_with_advice(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    invoke(
        event("Update", cfn.url, properties(CopyTags="true"), physical_id=COPY_ARN, old_props=properties())
    )
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert "change target_snapshot_name" in response["Reason"]
    assert aws.calls == []


def test_failed_replacement_copy_is_deleted_not_leaked(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    new_arn = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/copy-2"
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING", arn=new_arn)})
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
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS", arn=new_arn)
    aws.expect_delete(new_arn)
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert new_arn in response["Reason"]
    # The resource stays the old copy; the failed new one was deleted above.
    assert response["PhysicalResourceId"] == COPY_ARN


def test_logs_are_json_at_info(
    aws: Aws, cfn: CloudFormationEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    stream = logging.StreamHandler()
    root.addHandler(stream)
    try:
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
    assert SIGNATURE not in json.dumps(lines)
