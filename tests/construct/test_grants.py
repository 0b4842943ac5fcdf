"""grant and grant_restore on a copy and on an imported copy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from copied_snapshot import CopiedSnapshot, RuleViolation
from tests.support.apps import new_app, partition_arn

ACCOUNT, REGION = "123456789012", "us-east-1"
ENV = Environment(account=ACCOUNT, region=REGION)
SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/source-1"
IMPORTED = "arn:aws:docdb-elastic:us-west-2:210987654321:cluster-snapshot/copy-1"
VIA = {"Fn::Join": ["", [f"docdb-elastic.{REGION}.", {"Ref": "AWS::URLSuffix"}]]}
KMS_ACTIONS = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"]


def role_statements(stack: Stack, role: iam.Role) -> list[dict[str, Any]]:
    template = Template.from_stack(stack).to_json()
    role_id = stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    [policy] = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def new_role(stack: Stack) -> iam.Role:
    return iam.Role(stack, "Restorer", assumed_by=iam.AccountRootPrincipal())


def test_grant_restore_on_a_copy_with_a_key() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, kms_key=key)
    role = new_role(stack)
    grant = copy.grant_restore(role)
    assert isinstance(grant, iam.Grant) and grant.success
    copy_id = stack.get_logical_id(copy.node.find_child("Resource").node.default_child)  # type: ignore[arg-type]
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    clusters = partition_arn(f":docdb-elastic:{REGION}:{ACCOUNT}:cluster/*")
    assert role_statements(stack, role) == [
        {
            "Action": "docdb-elastic:RestoreClusterFromSnapshot",
            "Effect": "Allow",
            "Resource": [clusters, {"Fn::GetAtt": [copy_id, "SnapshotArn"]}],
        },
        {"Action": "docdb-elastic:CreateCluster", "Effect": "Allow", "Resource": "*"},
        {"Action": "docdb-elastic:TagResource", "Effect": "Allow", "Resource": clusters},
        {
            "Action": KMS_ACTIONS,
            "Condition": {"StringEquals": {"kms:ViaService": VIA}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    ]


def test_grant_restore_without_a_key_uses_the_key_the_copy_reports() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    role = new_role(stack)
    copy.grant_restore(role)
    copy_id = stack.get_logical_id(copy.node.find_child("Resource").node.default_child)  # type: ignore[arg-type]
    [key_statement] = [s for s in role_statements(stack, role) if "kms:Decrypt" in s["Action"]]
    assert key_statement["Resource"] == {"Fn::GetAtt": [copy_id, "KmsKeyId"]}


def test_an_alias_is_granted_on_the_key_behind_it() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, kms_key=key.add_alias("alias/orders"))
    role = new_role(stack)
    copy.grant_restore(role)
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    [key_statement] = [s for s in role_statements(stack, role) if "kms:Decrypt" in s["Action"]]
    assert key_statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_grant_restore_on_an_import_is_scoped_to_its_account_region_and_key() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    key_arn = "arn:aws:kms:us-west-2:210987654321:key/k-1"
    imported = CopiedSnapshot.from_snapshot_arn(stack, "Copy", IMPORTED, snapshot_kms_key_id=key_arn)
    role = new_role(stack)
    imported.grant_restore(role)
    found = role_statements(stack, role)
    assert found[0] == {
        "Action": "docdb-elastic:RestoreClusterFromSnapshot",
        "Effect": "Allow",
        "Resource": [IMPORTED, partition_arn(":docdb-elastic:us-west-2:210987654321:cluster/*")],
    }
    assert found[3] == {
        "Action": KMS_ACTIONS,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": {"Fn::Join": ["", ["docdb-elastic.us-west-2.", {"Ref": "AWS::URLSuffix"}]]}
            }
        },
        "Effect": "Allow",
        "Resource": key_arn,
    }


def test_an_import_without_a_key_grants_no_key() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    imported = CopiedSnapshot.from_snapshot_arn(stack, "Copy", IMPORTED)
    role = new_role(stack)
    imported.grant_restore(role)
    assert not any("kms:Decrypt" in statement["Action"] for statement in role_statements(stack, role))


def test_an_import_told_an_alias_cannot_be_granted() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    imported = CopiedSnapshot.from_snapshot_arn(
        stack, "Copy", IMPORTED, snapshot_kms_key_id="arn:aws:kms:us-west-2:210987654321:alias/orders"
    )
    with pytest.raises(RuleViolation, match="cannot be granted: give the key's ARN"):
        imported.grant_restore(new_role(stack))


def test_grant_any_actions_on_the_copy() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    imported = CopiedSnapshot.from_snapshot_arn(stack, "Imported", IMPORTED)
    role = new_role(stack)
    grant = copy.grant(role, "docdb-elastic:GetClusterSnapshot")
    assert isinstance(grant, iam.Grant)
    imported.grant(role, "docdb-elastic:GetClusterSnapshot", "docdb-elastic:ListTagsForResource")
    copy_id = stack.get_logical_id(copy.node.find_child("Resource").node.default_child)  # type: ignore[arg-type]
    assert role_statements(stack, role) == [
        {
            "Action": "docdb-elastic:GetClusterSnapshot",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [copy_id, "SnapshotArn"]},
        },
        {
            "Action": ["docdb-elastic:GetClusterSnapshot", "docdb-elastic:ListTagsForResource"],
            "Effect": "Allow",
            "Resource": IMPORTED,
        },
    ]
