"""The handler under hostile events, timeouts, lost answers and repeated deliveries: nothing lost, nothing
foreign touched."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from copied_snapshot_runtime import decisions, invocation, response, rules
from copied_snapshot_runtime import handler as copy_handler
from copied_snapshot_runtime.properties import CopyProperties
from copied_snapshot_runtime.resource import AnswerNotDelivered
from tests.runtime import test_handler
from tests.runtime.test_handler import NEW_ARN, expect_copy, expect_owned, invoke, owner, start_create
from tests.support.constants import ACCOUNT, REGION
from tests.support.handler_harness import (
    COPY_ARN,
    RULE_ARN,
    SIGNATURE,
    SOURCE_ARN,
    STACK_ID,
    Aws,
    CloudFormationEndpoint,
    Context,
    event,
    properties,
    snapshot,
)

# The fixtures of the handler's life-cycle tests: stubbed AWS, the ResponseURL, no secret in any log.
aws = test_handler.aws
cfn = test_handler.cfn
no_secret_in_logs = test_handler.no_secret_in_logs

OTHER_STACK_ID = STACK_ID.replace("SnapshotCopyStack", "OtherTeamStack")


def other_owner(logical_id: str = "OrdersCopy", stack_id: str = OTHER_STACK_ID) -> str:
    props = CopyProperties(SOURCE_ARN, "orders-copy")
    return decisions.owner_tag_value(stack_id, logical_id, props)


# Ownership fence --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({"team": "data"}, "no CopiedSnapshot"),  # the source, or anything made by hand
        ({rules.OWNER_TAG: other_owner()}, "CopiedSnapshot OtherTeamStack/OrdersCopy"),
        ({rules.OWNER_TAG: other_owner("OtherCopy", STACK_ID)}, "CopiedSnapshot SnapshotCopyStack/OtherCopy"),
    ],
)
def test_delete_of_a_snapshot_this_resource_did_not_make_succeeds_and_touches_nothing(
    aws: Aws,
    cfn: CloudFormationEndpoint,
    caplog: pytest.LogCaptureFixture,
    tags: dict[str, str],
    named: str,
) -> None:
    aws.expect_tags(tags, SOURCE_ARN)
    invoke(event("Delete", cfn.url, physical_id=SOURCE_ARN))
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", SOURCE_ARN)
    assert aws.operations() == ["ListTagsForResource"]
    assert "not this resource's copy; left alone" in caplog.text and named in caplog.text


def test_delete_of_an_id_with_a_trailing_newline_touches_nothing(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN + "\n"))
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert aws.calls == []


def test_delete_of_its_own_copy_after_in_place_updates_still_deletes(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """The fence compares the stack and logical id: the digest of the properties may have changed."""
    expect_owned(aws, props=properties(TargetSnapshotName="made-from-older-properties"))
    aws.expect_delete_refused("ResourceNotFoundException", 404)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert aws.operations() == ["ListTagsForResource", "DeleteClusterSnapshot"]


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({}, "no CopiedSnapshot (it has no copied-snapshot:owner tag)"),
        ({rules.OWNER_TAG: other_owner()}, "CopiedSnapshot OtherTeamStack/OrdersCopy"),
    ],
)
def test_update_of_a_snapshot_this_resource_did_not_make_fails_naming_the_owner(
    aws: Aws, cfn: CloudFormationEndpoint, tags: dict[str, str], named: str
) -> None:
    aws.expect_tags(tags)
    old = properties(Tags=[{"Key": "team", "Value": "old"}])
    invoke(event("Update", cfn.url, properties(), physical_id=COPY_ARN, old_props=old))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert response["Reason"] == (
        f"snapshot {COPY_ARN} belongs to {named}, not to CopiedSnapshot SnapshotCopyStack/OrdersCopy; "
        "it is left unchanged"
    )
    assert response["PhysicalResourceId"] == COPY_ARN
    assert aws.operations() == ["ListTagsForResource"]


@pytest.mark.parametrize(
    "physical_id",
    [COPY_ARN + "\n", f"arn:aws:docdb-elastic:{REGION}:210987654321:cluster-snapshot/copy-1", "made-up-id"],
)
def test_update_of_an_id_that_is_not_a_snapshot_here_fails_before_any_call(
    aws: Aws, cfn: CloudFormationEndpoint, physical_id: str
) -> None:
    invoke(event("Update", cfn.url, properties(), physical_id=physical_id, old_props=properties(Tags=[])))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert f"is not a snapshot of {REGION}/{ACCOUNT}" in response["Reason"]
    assert aws.calls == []


# No orphan on a Lambda timeout --------------------------------------------------------------------------

# Remaining time of an invocation whose timeout answer goes out after 0.3 s.
SHORT_MILLIS = 400


def slow(client: Any, operation: str, seconds: float = 1.0) -> None:
    """Makes `operation` of `client` take `seconds`, so that the invocation runs out of time during it."""
    service = client.meta.service_model.endpoint_prefix
    client.meta.events.register(
        f"provide-client-params.{service}.{operation}", lambda **_: time.sleep(seconds)
    )


def aws_docdb_client() -> Any:
    return invocation.service()._client


def invoke_short(message: dict[str, Any]) -> None:
    copy_handler.handler(message, Context(remaining_millis=SHORT_MILLIS))


def test_a_create_timing_out_after_the_copy_started_answers_with_the_copy_arn(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    aws.expect_source()
    expect_copy(aws)
    aws.expect_polling_setup()
    slow(invocation.helper._events_client, "PutRule")
    invoke_short(event("Create", cfn.url))
    [response] = cfn.responses
    assert (response["Status"], response["Reason"]) == (
        "FAILED",
        f"Execution timed out making copy {COPY_ARN}",
    )
    assert response["PhysicalResourceId"] == COPY_ARN  # the rollback's Delete removes the copy


def test_a_create_timing_out_before_the_copy_answered_answers_with_a_made_up_id(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    aws.expect_source()
    expect_copy(aws)
    aws.expect_polling_setup()
    slow(aws_docdb_client(), "CopyClusterSnapshot")
    invoke_short(event("Create", cfn.url))
    [response] = cfn.responses
    assert (response["Status"], response["Reason"]) == (
        "FAILED",
        "Execution timed out making copy 'orders-copy'",
    )
    # The id says the Create timed out: the Delete looks for the copy for as long as Lambda may run it again.
    assert response["PhysicalResourceId"].startswith("SnapshotCopyStack_OrdersCopy_timedout_")
    assert decisions.copy_may_still_appear(response["PhysicalResourceId"])


def test_a_poll_running_out_of_time_does_not_answer(
    aws: Aws, cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    poll = start_create(aws, cfn)
    aws.expect_get("COPYING")
    slow(aws_docdb_client(), "GetClusterSnapshot")
    invoke_short(poll)
    assert cfn.responses == []
    assert "poll ran out of time; the next poll asks again" in caplog.text


def test_a_poll_running_out_of_time_past_the_deadline_answers_and_ends_polling(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_create(aws, cfn)
    moment = float(poll["CrHelperData"]["Deadline"]) + 1  # read now: crhelper takes its Data from the event
    monkeypatch.setattr(invocation, "clock", lambda: moment)
    aws.expect_polling_teardown()
    aws.expect_get("COPYING")
    slow(aws_docdb_client(), "GetClusterSnapshot")
    invoke_short(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert (
        answer["Reason"]
        == f"Execution timed out after the 1800 second CopiedSnapshot timeout making copy {COPY_ARN}"
    )
    assert answer["PhysicalResourceId"] == COPY_ARN


def test_a_poll_running_out_of_time_after_cloudformation_stopped_waiting_only_ends_polling(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_create(aws, cfn)
    moment = float(poll["CrHelperData"]["AnswerBy"]) + 1  # read now: crhelper takes its Data from the event
    monkeypatch.setattr(invocation, "clock", lambda: moment)
    aws.expect_polling_teardown()
    aws.expect_get("COPYING")
    slow(aws_docdb_client(), "GetClusterSnapshot")
    invoke_short(poll)
    assert cfn.responses == []


def test_an_update_timing_out_after_its_replacement_started_names_the_replacement(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    old, new = properties(), properties(TargetSnapshotName="orders-copy-v2")
    expect_owned(aws)
    aws.expect_source()
    expect_copy(aws, name="orders-copy-v2", arn=NEW_ARN, props=new)
    aws.expect_polling_setup()
    slow(invocation.helper._events_client, "PutRule")
    invoke_short(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == COPY_ARN  # the resource is still the old copy
    assert response["Reason"].startswith(f"Execution timed out; the replacement copy {NEW_ARN} was started")


def list_holding_name(aws: Aws, arn: str = COPY_ARN, name: str = "orders-copy") -> None:
    summary = {"clusterArn": "c", "snapshotArn": arn, "snapshotCreationTime": "t", "status": "COPYING"}
    aws.docdb.add_response("list_cluster_snapshots", {"snapshots": [{**summary, "snapshotName": name}]}, {})


def test_delete_by_a_made_up_id_finds_the_copy_of_a_create_that_never_answered(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """A Create that timed out (or that CloudFormation cancelled) before it knew the copy's ARN."""
    list_holding_name(aws)
    aws.expect_tags({rules.OWNER_TAG: owner()})
    aws.expect_delete()
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, properties(), physical_id="SnapshotCopyStack_OrdersCopy_K3J5H2QZ"))
    assert cfn.responses == []
    assert aws.poll_event()["CrHelperData"]["SnapshotArn"] == COPY_ARN
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == (
        "SUCCESS",
        "SnapshotCopyStack_OrdersCopy_K3J5H2QZ",
    )


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {rules.OWNER_TAG: other_owner()},
        # Made by this stack name and logical id, but from another stack of that name (a retained copy).
        {rules.OWNER_TAG: other_owner(stack_id=STACK_ID.replace("0f5c7a40", "99999999"))},
    ],
)
def test_delete_by_a_made_up_id_leaves_a_snapshot_holding_the_name_for_anyone_else(
    aws: Aws, cfn: CloudFormationEndpoint, tags: dict[str, str]
) -> None:
    list_holding_name(aws)
    aws.expect_tags(tags)
    invoke(event("Delete", cfn.url, properties(), physical_id="SnapshotCopyStack_OrdersCopy_K3J5H2QZ"))
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert "DeleteClusterSnapshot" not in aws.operations()


CLOUDFORMATION_MADE_UP_ID = "SnapshotCopyStack-OrdersCopy-1A2B3C4D5E6F"  # after a cancel or a ServiceTimeout
WINDOW = 3 * 300 + 60 + 120  # the Create and Lambda's two retries of it, 300 s each, 1 and 2 minutes apart


def list_empty(aws: Aws) -> None:
    aws.docdb.add_response("list_cluster_snapshots", {"snapshots": []}, {})


def start_looking(aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    monkeypatch.setenv("FUNCTION_TIMEOUT_SECONDS", "300")
    list_empty(aws)
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, properties(), physical_id=CLOUDFORMATION_MADE_UP_ID))
    assert cfn.responses == []
    poll = aws.poll_event()
    assert poll["CrHelperData"]["SearchName"] == "orders-copy"
    assert poll["CrHelperData"]["Deadline"] == 1000.0 + WINDOW
    return poll


def test_delete_for_a_create_that_never_answered_keeps_looking_and_deletes_a_copy_made_later(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation cancelled the Create (or stopped waiting for it) and sent the Delete while the
    Create was still on its way to CopyClusterSnapshot: the copy appears after the Delete first looked."""
    poll = start_looking(aws, cfn, monkeypatch)
    list_holding_name(aws)  # the Create made its copy after all; it is still copying
    aws.expect_tags({rules.OWNER_TAG: owner()})
    aws.expect_delete_refused("ConflictException", 409)
    invoke(poll)
    list_holding_name(aws)
    aws.expect_tags({rules.OWNER_TAG: owner()})
    aws.expect_delete()
    invoke(poll)
    assert cfn.responses == []
    assert aws.operations().count("DeleteClusterSnapshot") == 2
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + WINDOW + 1)
    list_empty(aws)
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", CLOUDFORMATION_MADE_UP_ID)


def test_delete_that_looked_in_vain_until_the_window_ended_succeeds_touching_nothing(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_looking(aws, cfn, monkeypatch)
    list_empty(aws)
    invoke(poll)
    assert cfn.responses == []
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + WINDOW + 1)
    list_holding_name(aws)  # someone else's snapshot took the name meanwhile
    aws.expect_tags({rules.OWNER_TAG: other_owner()})
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert "DeleteClusterSnapshot" not in aws.operations()


def test_delete_whose_late_copy_is_still_being_made_when_the_window_ends_fails_naming_it(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_looking(aws, cfn, monkeypatch)
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + WINDOW + 1)
    list_holding_name(aws)
    aws.expect_tags({rules.OWNER_TAG: owner()})
    aws.expect_delete_refused("ConflictException", 409)
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "FAILED"
    assert COPY_ARN in response["Reason"] and "delete it once it is ACTIVE" in response["Reason"]


def test_delete_whose_late_copy_is_being_deleted_when_the_window_ends_succeeds(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_looking(aws, cfn, monkeypatch)
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + WINDOW + 1)
    summary = {"clusterArn": "c", "snapshotArn": COPY_ARN, "snapshotCreationTime": "t", "status": "DELETING"}
    aws.docdb.add_response(
        "list_cluster_snapshots", {"snapshots": [{**summary, "snapshotName": "orders-copy"}]}, {}
    )
    aws.expect_tags({rules.OWNER_TAG: owner()})
    aws.expect_polling_teardown()
    invoke(poll)
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert "DeleteClusterSnapshot" not in aws.operations()


def test_delete_for_a_create_that_answered_failed_without_a_copy_answers_at_once(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """The Create ended (it answered, not at its timeout): Lambda does not run it again."""
    list_empty(aws)
    invoke(event("Delete", cfn.url, properties(), physical_id="SnapshotCopyStack_OrdersCopy_K3J5H2QZ"))
    [response] = cfn.responses
    assert response["Status"] == "SUCCESS"
    assert "PutRule" not in aws.operations()


def test_a_polling_rule_whose_target_could_not_be_put_is_deleted_and_the_copy_reported(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    aws.expect_source()
    expect_copy(aws)
    aws.events.add_response("put_rule", {"RuleArn": RULE_ARN})
    aws.events.add_client_error("put_targets", "LimitExceededException", "too many targets", 400)
    aws.events.add_response("delete_rule", {}, {"Name": RULE_ARN.split("/")[1]})
    invoke(event("Create", cfn.url))
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED" and "LimitExceededException" in answer["Reason"]
    assert answer["PhysicalResourceId"] == COPY_ARN  # the rollback's Delete removes the copy


# No orphan on a lost answer -----------------------------------------------------------------------------


def test_an_answer_not_delivered_keeps_the_polling_rule_and_the_next_poll_answers_again(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(response, "ATTEMPTS", 1)
    poll = start_create(aws, cfn)
    cfn.statuses = [503]
    aws.expect_get("ACTIVE")
    invoke(poll)
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS"]
    assert "DeleteRule" not in aws.operations() and "RemoveTargets" not in aws.operations()
    assert "the polling rule stays and the next poll answers" in caplog.text
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS", "SUCCESS"]
    assert aws.operations().count("DeleteRule") == 1


def start_delete(aws: Aws, cfn: CloudFormationEndpoint) -> dict[str, Any]:
    expect_owned(aws)
    aws.expect_delete()
    aws.expect_polling_setup()
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    return aws.poll_event()


def test_a_deletes_last_answer_comes_after_its_rule_is_removed(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation may delete the function and its role as soon as the stack's last Delete answers."""
    poll = start_delete(aws, cfn)
    sent_after: list[list[str]] = []
    send = response.send_response

    def recording(url: str, body: dict[str, Any], attempts: int) -> response.Delivery:
        sent_after.append(aws.operations())
        return send(url, body, attempts=attempts)

    monkeypatch.setattr(response, "send_response", recording)
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(poll)
    [operations] = sent_after
    assert operations[-2:] == ["RemoveTargets", "DeleteRule"]
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS"]


def test_a_deletes_last_answer_not_delivered_puts_its_rule_back_and_the_next_poll_answers(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response, "ATTEMPTS", 1)
    poll = start_delete(aws, cfn)
    as_sent = json.loads(json.dumps(poll))  # crhelper changes the event it is handed
    cfn.statuses = [503]
    aws.expect_gone()
    aws.expect_polling_teardown()
    aws.expect_polling_setup()
    invoke(poll)
    assert aws.operations()[-4:] == ["RemoveTargets", "DeleteRule", "PutRule", "PutTargets"]
    assert aws.poll_event() == as_sent  # the same poll, to answer again
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize("rule", ["gone", "no target"])
def test_a_deletes_poll_run_again_after_its_rule_went_answers_success_once_the_copy_is_gone(
    aws: Aws, cfn: CloudFormationEndpoint, rule: str
) -> None:
    """Killed between removing its rule and answering, the last poll is run again by Lambda."""
    poll = start_delete(aws, cfn)
    aws.rule = rule
    aws.expect_gone()
    aws.expect_polling_teardown()
    invoke(poll)
    [answer] = cfn.responses
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", COPY_ARN)


def test_a_deletes_poll_whose_rule_went_does_not_answer_while_the_copy_is_there(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_delete(aws, cfn)
    aws.rule = "gone"
    moment = float(poll["CrHelperData"]["Deadline"]) + 1  # read now: crhelper takes its Data from the event
    monkeypatch.setattr(invocation, "clock", lambda: moment)
    aws.expect_get("DELETING")
    invoke(poll)
    assert cfn.responses == []  # past the deadline it would answer FAILED: never after the rule went


def test_an_answer_not_delivered_after_cloudformation_stopped_waiting_ends_polling(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(response, "ATTEMPTS", 1)
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    poll = start_create(aws, cfn)
    assert poll["CrHelperData"]["AnswerBy"] == 1000.0 + 3600  # CloudFormation's default ServiceTimeout
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0 + 3601)
    cfn.statuses = [503]
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    assert "CloudFormation no longer waits; polling ends" in caplog.text


def test_the_service_timeout_passed_along_sets_how_long_an_answer_is_tried(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invocation, "clock", lambda: 1000.0)
    aws.expect_source()
    aws.docdb.add_response("copy_cluster_snapshot", {"snapshot": snapshot("COPYING")})
    aws.expect_polling_setup()
    invoke(event("Create", cfn.url, properties(ServiceTimeout="2100")))
    assert aws.poll_event()["CrHelperData"]["AnswerBy"] == 1000.0 + 2100


def test_a_first_answer_not_delivered_fails_the_invocation_so_that_lambda_runs_it_again(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response, "ATTEMPTS", 1)
    cfn.statuses = [503]
    aws.expect_tags(None)
    with pytest.raises(AnswerNotDelivered):
        invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    aws.expect_tags(None)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))  # Lambda's retry
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS", "SUCCESS"]


def test_a_repeated_answer_refused_by_the_used_url_ends_polling_without_a_failure_logged(
    aws: Aws, cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    poll = start_create(aws, cfn)
    cfn.statuses = [403]
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    with caplog.at_level(logging.INFO):
        invoke(poll)
    assert len(cfn.responses) == 1
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert "the URL has taken an answer already or expired (assumed)" in caplog.text


# Repeated deliveries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "calls"),
    [
        ("gone", ["ListTargetsByRule"]),
        # The teardown removed the target and was killed before it deleted the rule: the rule goes now.
        ("no target", ["ListTargetsByRule", "DeleteRule"]),
    ],
)
def test_a_poll_whose_rule_or_target_is_gone_exits_without_answering(
    aws: Aws, cfn: CloudFormationEndpoint, rule: str, calls: list[str]
) -> None:
    poll = start_create(aws, cfn)
    calls_before = len(aws.calls)
    aws.rule = rule
    if "DeleteRule" in calls:
        aws.events.add_response("delete_rule", {}, {"Name": RULE_ARN.split("/")[1]})
    invoke(poll)
    assert cfn.responses == []
    assert aws.operations()[calls_before:] == calls


def test_a_first_invocation_run_again_puts_the_same_polling_rule(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """Killed after putting its rule, the invocation is run again by Lambda: no second rule is left."""
    names = []
    for _ in range(2):
        aws.expect_source()
        expect_copy(aws)
        aws.expect_polling_setup()
        invoke(event("Create", cfn.url))
        names.append([params["Name"] for operation, params in aws.calls if operation == "PutRule"][-1])
    assert names[0] == names[1]
    assert names[0].startswith("CopiedSnapshot-OrdersCopy")


def test_a_poll_that_may_not_check_its_rule_goes_on(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    poll = start_create(aws, cfn)
    aws.rule = "denied"
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "SUCCESS"


def test_removing_a_rule_and_target_already_gone_is_not_a_failure(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    poll = start_create(aws, cfn)
    aws.expect_get("ACTIVE")
    aws.events.add_client_error("remove_targets", "ResourceNotFoundException", "Rule does not exist.", 400)
    aws.events.add_client_error("delete_rule", "ResourceNotFoundException", "Rule does not exist.", 400)
    invoke(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "SUCCESS"


def test_a_finished_request_delivered_again_never_answers_again(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    poll = start_create(aws, cfn)
    aws.expect_get("ACTIVE")
    aws.expect_polling_teardown()
    invoke(poll)
    aws.rule = "gone"  # the first delivery's teardown deleted it
    invoke(poll)
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS"]
    assert aws.operations().count("GetClusterSnapshot") == 2  # the source, then the one finishing poll


def test_a_delete_delivered_again_after_the_copy_is_gone_succeeds(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    aws.expect_tags(None)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    aws.expect_tags(None)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))
    assert [answer["Status"] for answer in cfn.responses] == ["SUCCESS", "SUCCESS"]


def test_a_replacement_delivered_again_after_the_old_copy_was_deleted_adopts_its_copy(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    """Lambda's retry of an Update that already answered SUCCESS never answers FAILED."""
    old, new = properties(), properties(TargetSnapshotName="orders-copy-v2")
    aws.expect_tags(None)  # CloudFormation deleted the old copy after the first delivery succeeded
    aws.expect_source()
    aws.docdb.add_client_error("copy_cluster_snapshot", "ConflictException", "name in use", 409)
    list_holding_name(aws, arn=NEW_ARN, name="orders-copy-v2")
    aws.expect_tags({rules.OWNER_TAG: owner(new)}, NEW_ARN)
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    aws.expect_get("ACTIVE", arn=NEW_ARN)
    aws.expect_polling_teardown()
    invoke(aws.poll_event())
    [answer] = cfn.responses
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", NEW_ARN)


def test_a_tag_update_of_a_copy_gone_fails_naming_it(aws: Aws, cfn: CloudFormationEndpoint) -> None:
    aws.expect_tags(None)
    invoke(event("Update", cfn.url, properties(), physical_id=COPY_ARN, old_props=properties(Tags=[])))
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert (
        answer["Reason"] == f"copy {COPY_ARN} no longer exists; remove it from the stack or change its name"
    )


# A failed replacement still copying ---------------------------------------------------------------------


def start_replacement(aws: Aws, cfn: CloudFormationEndpoint) -> dict[str, Any]:
    """An Update whose replacement copy (NEW_ARN) started; returns the poll event."""
    old, new = properties(), properties(TargetSnapshotName="orders-copy-v2")
    expect_owned(aws)
    aws.expect_source()
    expect_copy(aws, name="orders-copy-v2", arn=NEW_ARN, props=new)
    aws.expect_polling_setup()
    invoke(event("Update", cfn.url, new, physical_id=COPY_ARN, old_props=old))
    assert cfn.responses == []
    return aws.poll_event()


def denied(aws: Aws, operation: str, arn: str = NEW_ARN) -> None:
    aws.docdb.add_client_error(
        operation, "AccessDeniedException", "not allowed", 403, expected_params={"snapshotArn": arn}
    )


def test_a_failed_replacement_still_copying_is_asked_again_at_each_poll_until_deleted(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    poll = start_replacement(aws, cfn)
    denied(aws, "get_cluster_snapshot")
    aws.expect_delete_refused("ConflictException", 409, arn=NEW_ARN)
    invoke(poll)
    assert cfn.responses == []  # the replacement is still copying: its deletion is asked again
    denied(aws, "get_cluster_snapshot")
    aws.expect_delete(NEW_ARN)
    aws.expect_polling_teardown()
    invoke(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == f"reading copy {NEW_ARN} failed: AccessDeniedException: not allowed"
    assert answer["PhysicalResourceId"] == COPY_ARN


def test_a_failed_replacement_still_copying_at_the_deadline_is_named_for_the_user_to_delete(
    aws: Aws, cfn: CloudFormationEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = start_replacement(aws, cfn)
    moment = float(poll["CrHelperData"]["Deadline"]) + 1  # read now: crhelper takes its Data from the event
    monkeypatch.setattr(invocation, "clock", lambda: moment)
    aws.expect_get("COPYING", arn=NEW_ARN)
    aws.expect_delete_refused("ConflictException", 409, arn=NEW_ARN)
    aws.expect_polling_teardown()
    invoke(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        f"replacement copy {NEW_ARN} is left for the rollback or you to delete (it was still busy at the "
        "deadline and refused deletion); it failed: was not ACTIVE within 1800 seconds (status COPYING)"
    )
    assert answer["PhysicalResourceId"] == COPY_ARN


def test_a_failed_replacement_that_cannot_be_deleted_is_named_for_the_user_to_delete(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    poll = start_replacement(aws, cfn)
    aws.expect_get("INACCESSIBLE_ENCRYPTION_CREDS", arn=NEW_ARN)
    denied(aws, "delete_cluster_snapshot")
    aws.expect_polling_teardown()
    invoke(poll)
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (
        f"replacement copy {NEW_ARN} is left for the rollback or you to delete (deleting it failed: "
        "AccessDeniedException); it failed: ended in status INACCESSIBLE_ENCRYPTION_CREDS and will not "
        "become ACTIVE"
    )


# Malformed events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["StackId", "RequestId", "LogicalResourceId", "ResponseURL"])
def test_an_event_missing_what_its_answer_needs_is_never_answered_with_another_requests(
    aws: Aws, cfn: CloudFormationEndpoint, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    aws.expect_tags(None)
    invoke(event("Delete", cfn.url, physical_id=COPY_ARN))  # leaves its ids and URL in crhelper's object
    other = CloudFormationEndpoint()
    try:
        message = event("Delete", other.url, physical_id=NEW_ARN)
        message["RequestId"] = "delete-request-2"
        del message[missing]
        invoke(message)
    finally:
        other.close()
    assert len(cfn.responses) == 1 and other.responses == []
    assert aws.operations() == ["ListTagsForResource"]
    assert f"event not answered: the event lacks {missing}" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://example.com/cloudformation-response?{SIGNATURE}",
        f"cloudformation-response?{SIGNATURE}",
        f"https://example.com/cloudformation-response?{SIGNATURE}\r\nHost: elsewhere",
    ],
)
def test_a_malformed_response_url_is_not_answered_nor_logged(
    aws: Aws, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        invoke(event("Delete", url, physical_id=COPY_ARN))
    assert aws.calls == []
    assert "event not answered: the event's ResponseURL is not an http(s) URL" in caplog.text


@pytest.mark.parametrize("message", [[], "Create", None])
def test_an_event_that_is_not_a_map_is_not_answered(aws: Aws, message: Any) -> None:
    copy_handler.handler(message, Context())
    assert aws.calls == []


@pytest.mark.parametrize(("request_type", "physical_id"), [("Replace", COPY_ARN), ("create", None)])
def test_an_unknown_request_type_fails_naming_the_accepted_ones(
    aws: Aws, cfn: CloudFormationEndpoint, request_type: str, physical_id: str | None
) -> None:
    invoke(event(request_type, cfn.url, physical_id=physical_id))
    [answer] = cfn.responses
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (f"unknown RequestType {request_type!r}; accepted are Create, Update, Delete")
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        STACK_ID,
        f"{request_type.lower()}-request-1",
        "OrdersCopy",
    )
    assert answer["PhysicalResourceId"].startswith(
        COPY_ARN if physical_id else "SnapshotCopyStack_OrdersCopy_"
    )
    assert aws.calls == []


def test_an_event_without_request_type_fails_naming_the_accepted_ones(
    aws: Aws, cfn: CloudFormationEndpoint
) -> None:
    message = event("Create", cfn.url)
    del message["RequestType"]
    invoke(message)
    [answer] = cfn.responses
    assert (answer["Status"], answer["Reason"]) == (
        "FAILED",
        "unknown RequestType ''; accepted are Create, Update, Delete",
    )


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ("team=data", "Tags must be a list of {Key, Value}, got str"),
        (
            [{"Key": "team", "Value": None}],
            "Tags[0] must have a string Key and Value, got Key str and Value null",
        ),
        (
            [{"Key": "team", "Value": {"nested": "map"}}],
            "Tags[0] must have a string Key and Value, got Key str and Value a map",
        ),
        (["team"], "Tags[0] must be {Key, Value}, got str"),
    ],
)
def test_tags_of_the_wrong_shape_are_refused_clearly_and_the_rollback_update_succeeds(
    aws: Aws, cfn: CloudFormationEndpoint, tags: object, reason: str
) -> None:
    good, bad = properties(), properties(Tags=tags)
    invoke(event("Update", cfn.url, bad, physical_id=COPY_ARN, old_props=good))
    [refused] = cfn.responses
    assert (refused["Status"], refused["Reason"], refused["PhysicalResourceId"]) == (
        "FAILED",
        reason,
        COPY_ARN,
    )
    assert aws.calls == []
    # CloudFormation rolls back with old and new swapped.
    expect_owned(aws)
    aws.docdb.add_response("tag_resource", {}, {"resourceArn": COPY_ARN, "tags": {"team": "data"}})
    aws.expect_get("ACTIVE")
    invoke(event("Update", cfn.url, good, physical_id=COPY_ARN, old_props=bad))
    assert [answer["Status"] for answer in cfn.responses] == ["FAILED", "SUCCESS"]
