"""The handler under hostile events, timeouts, lost answers and repeated deliveries: nothing lost, nothing
foreign touched."""

from __future__ import annotations

import pytest

from copied_snapshot_runtime import decisions, rules
from copied_snapshot_runtime.properties import CopyProperties
from tests import test_handler
from tests.handler_harness import (
    ACCOUNT,
    COPY_ARN,
    REGION,
    SOURCE_ARN,
    STACK_ID,
    Aws,
    CloudFormationEndpoint,
    event,
    properties,
)
from tests.test_handler import expect_owned, invoke

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
