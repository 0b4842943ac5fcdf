"""The example app: least-privilege IAM, the cross-stack reference, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import CfnResource, Environment, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

import app as example_app
from copied_snapshot import CopiedSnapshot
from copied_snapshot.handler_function import HANDLER_ID, SnapshotCopyHandler
from tests.support.apps import ExampleApp, new_app, partition_arn

ACCOUNT, REGION = "123456789012", "us-east-1"


def policy_statements(example: ExampleApp) -> list[dict[str, Any]]:
    [policy] = example.copy_template.find_resources("AWS::IAM::Policy").values()
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_role_has_exactly_the_needed_permissions(example: ExampleApp) -> None:
    [key_id] = example.copy_template.find_resources("AWS::KMS::Key")
    [log_group_id] = example.copy_template.find_resources("AWS::Logs::LogGroup")
    [function] = example.copy_template.find_resources("AWS::Lambda::Function").values()
    prefix = function["Properties"]["Environment"]["Variables"]["POLL_RULE_PREFIX"]
    log_group_arn = {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert policy_statements(example) == [
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, {"Fn::Join": ["", [log_group_arn, ":*"]]}],
        },
        {
            "Sid": "ManageCopies",
            "Effect": "Allow",
            "Action": [
                "docdb-elastic:CreateClusterSnapshot",
                "docdb-elastic:DeleteClusterSnapshot",
                "docdb-elastic:GetClusterSnapshot",
                "docdb-elastic:ListTagsForResource",
                "docdb-elastic:TagResource",
                "docdb-elastic:UntagResource",
            ],
            "Resource": partition_arn(f":docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/*"),
        },
        {
            "Sid": "CopyNeedsCreateOnClusters",
            "Effect": "Allow",
            "Action": "docdb-elastic:CreateClusterSnapshot",
            "Resource": partition_arn(f":docdb-elastic:{REGION}:{ACCOUNT}:cluster/*"),
        },
        {
            "Sid": "FindCopiesByName",
            "Effect": "Allow",
            "Action": "docdb-elastic:ListClusterSnapshots",
            "Resource": "*",
        },
        {
            "Sid": "PollWithRules",
            "Effect": "Allow",
            "Action": [
                "events:DeleteRule",
                "events:ListTargetsByRule",
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
            ],
            "Resource": partition_arn(f":events:{REGION}:{ACCOUNT}:rule/{prefix}*"),
        },
        {
            "Effect": "Allow",
            "Action": ["docdb-elastic:CopyClusterSnapshot", "docdb-elastic:GetClusterSnapshot"],
            "Resource": example_app.DEFAULT_SOURCE_SNAPSHOT_ARN,
        },
        {
            "Sid": "EncryptCopies",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": {
                        "Fn::Join": ["", [f"docdb-elastic.{REGION}.", {"Ref": "AWS::URLSuffix"}]]
                    }
                }
            },
        },
    ]


def test_role_is_for_lambda_only_with_no_managed_policies(example: ExampleApp) -> None:
    [role] = example.copy_template.find_resources("AWS::IAM::Role").values()
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]


def test_polling_needs_no_permission_edits_at_run_time(example: ExampleApp) -> None:
    actions = json.dumps(policy_statements(example))
    assert "lambda:AddPermission" not in actions and "lambda:RemovePermission" not in actions
    [function_id] = example.copy_template.find_resources("AWS::Lambda::Function")
    [function] = example.copy_template.find_resources("AWS::Lambda::Function").values()
    prefix = function["Properties"]["Environment"]["Variables"]["POLL_RULE_PREFIX"]
    example.copy_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceAccount": ACCOUNT,
            "SourceArn": partition_arn(f":events:{REGION}:{ACCOUNT}:rule/{prefix}*"),
        },
    )


def dependency_closure(template: Mapping[str, Any], logical_id: str) -> set[str]:
    """Every resource `logical_id` waits for in CloudFormation: DependsOn, Ref and GetAtt, transitively."""
    resources = template["Resources"]

    def direct(value: Any) -> set[str]:
        if isinstance(value, dict):
            found: set[str] = set()
            for key, inner in value.items():
                if key == "Ref" and inner in resources:
                    found.add(inner)
                elif key == "Fn::GetAtt" and inner[0] in resources:
                    found.add(inner[0])
                else:
                    found |= direct(inner)
            return found
        if isinstance(value, list):
            return set().union(*(direct(inner) for inner in value))
        return set()

    closure: set[str] = set()
    waiting = [logical_id]
    while waiting:
        resource = resources[waiting.pop()]
        depends_on = resource.get("DependsOn", [])
        needed = direct(resource.get("Properties", {})) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        waiting.extend(needed - closure)
        closure |= needed
    return closure


def handler_resources(stack: Stack) -> set[str]:
    """The logical id of every CloudFormation resource of the stack's shared handler construct."""
    handler = stack.node.find_child(HANDLER_ID)
    return {
        stack.get_logical_id(child) for child in handler.node.find_all() if isinstance(child, CfnResource)
    }


def test_every_copy_depends_on_everything_its_handler_needs(example: ExampleApp) -> None:
    """CloudFormation deletes resources that nothing orders in parallel: the permission polls invoke the
    function through, or the policy, must outlive the copy's Delete."""
    template = example.copy_template.to_json()
    needed = handler_resources(example.copy_stack)
    types = {template["Resources"][logical_id]["Type"] for logical_id in needed}
    assert {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Permission",
    } <= types
    for copy_id in example.copy_template.find_resources("Custom::CopiedSnapshot"):
        assert needed <= dependency_closure(template, copy_id)


def test_a_role_default_policy_is_a_dependency_too() -> None:
    """Anything added to the handler later (here a grant to its role) is waited for as well."""
    app = new_app()
    stack = Stack(app, "Stack", env=Environment(account=ACCOUNT, region=REGION))
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=example_app.DEFAULT_SOURCE_SNAPSHOT_ARN)
    handler = SnapshotCopyHandler.of(stack)
    sqs.Queue(stack, "Queue", enforce_ssl=True).grant_send_messages(handler.role)
    template = app.synth().get_stack_by_name("Stack").template
    needed = handler_resources(stack)
    assert any(
        template["Resources"][logical_id]["Type"] == "AWS::IAM::Policy"
        for logical_id in needed - {stack.get_logical_id(handler.policy.node.default_child)}  # type: ignore[arg-type]
    )
    resource = copy.node.find_child("Resource").node.default_child
    assert isinstance(resource, CfnResource)
    assert needed <= dependency_closure(template, stack.get_logical_id(resource))


def test_consumer_stack_imports_the_copy_arn(example: ExampleApp) -> None:
    [copy_id] = example.copy_template.find_resources("Custom::CopiedSnapshot")
    exports = {
        output["Export"]["Name"]: output["Value"]
        for output in example.copy_template.to_json()["Outputs"].values()
        if "Export" in output
    }
    [export_name] = [
        name for name, value in exports.items() if value == {"Fn::GetAtt": [copy_id, "SnapshotArn"]}
    ]
    example.consumer_template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": "/orders/restore/snapshot-arn", "Value": {"Fn::ImportValue": export_name}},
    )
    # The staging cluster restores from the copy, in a VPC of two isolated subnets in two zones.
    example.consumer_template.has_resource_properties(
        "Custom::RestoredCluster",
        {"SnapshotArn": {"Fn::ImportValue": export_name}, "ClusterName": "orders-staging"},
    )
    subnets = example.consumer_template.find_resources("AWS::EC2::Subnet")
    assert sorted(subnet["Properties"]["AvailabilityZone"] for subnet in subnets.values()) == [
        f"{REGION}a",
        f"{REGION}b",
    ]
    assert example.consumer_template.find_resources("AWS::EC2::NatGateway") == {}
    assert example.consumer_stack.dependencies == [example.copy_stack]


def test_outputs(example: ExampleApp) -> None:
    [copy_id] = example.copy_template.find_resources("Custom::CopiedSnapshot")
    example.copy_template.has_output("CopyArn", {"Value": {"Fn::GetAtt": [copy_id, "SnapshotArn"]}})
    example.copy_template.has_output("CopyStatus", {"Value": {"Fn::GetAtt": [copy_id, "Status"]}})
    example.consumer_template.has_output("RestoreSnapshotArn", {})
    [cluster_id] = example.consumer_template.find_resources("Custom::RestoredCluster")
    example.consumer_template.has_output(
        "StagingClusterEndpoint", {"Value": {"Fn::GetAtt": [cluster_id, "ClusterEndpoint"]}}
    )


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    example_app.build(app)
    app.synth()  # raises on any unacknowledged finding


def test_cdk_nag_is_clean_for_an_environment_agnostic_stack_too() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Agnostic")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, kms_key=key)
    app.synth()


def test_a_hundred_copies_from_a_hundred_sources_with_a_hundred_keys_fit_iam_and_cdk_nag() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Many", env=Environment(account=ACCOUNT, region=REGION))
    for index in range(100):
        CopiedSnapshot(
            stack,
            f"Copy{index}",
            source_snapshot_arn=f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/{index:036d}",
            kms_key=kms.Key(
                stack, f"KeyWithAVeryLongConstructIdSoThatItsLogicalIdIsLong{index}", enable_key_rotation=True
            ),
        )
    assembly = app.synth()  # cdk-nag raises on any unacknowledged finding
    template = assembly.get_stack_by_name("Many").template
    [policy] = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    document = policy["Properties"]["PolicyDocument"]
    assert len(json.dumps(document, separators=(",", ":"))) < 10_240
    [sources] = [s for s in document["Statement"] if "docdb-elastic:CopyClusterSnapshot" in s["Action"]]
    assert sources["Resource"] == f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/*"
    [keys] = [s for s in document["Statement"] if "kms:Decrypt" in s["Action"]]
    assert keys["Resource"] == partition_arn(f":kms:{REGION}:{ACCOUNT}:key/*")
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    permissions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    assert (len(functions), len(permissions)) == (1, 1)


def test_cdk_nag_runs_and_would_catch_a_finding() -> None:
    """Guards the test above: the same set-up fails on a stack with a real finding."""
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    copy_stack, _ = example_app.build(app)
    sqs.Queue(copy_stack, "UnencryptedQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS"):
        app.synth()


@pytest.mark.parametrize("stack", ["SnapshotCopyStack", "SnapshotConsumerStack"])
def test_cfn_lint_finds_no_errors(example: ExampleApp, stack: str) -> None:
    template = example.assembly.get_stack_by_name(stack).template
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    errors = [str(match) for match in matches if match.rule.id.startswith("E")]
    assert errors == []


def test_cfn_lint_would_catch_an_error(example: ExampleApp) -> None:
    """Guards the test above: cfn-lint reports a broken template as an error."""
    template = json.loads(json.dumps(example.assembly.get_stack_by_name("SnapshotConsumerStack").template))
    template["Resources"]["Broken"] = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String"}}
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert any(match.rule.id.startswith("E") for match in matches)


def kms_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    [policy] = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    return [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "kms:Decrypt" in s["Action"]]


def test_an_alias_grants_on_the_key_behind_it() -> None:
    """An alias ARN in Resource grants nothing on the key: the grant goes to the alias's target key."""
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Stack", env=Environment(account=ACCOUNT, region=REGION))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    alias = key.add_alias("alias/orders-copies")
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, kms_key=alias)
    template = app.synth().get_stack_by_name("Stack").template
    [key_id] = [i for i, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    [statement] = kms_statements(template)
    assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "kms:GenerateDataKey*" in statement["Action"]


def test_an_alias_imported_by_name_grants_on_the_keys_that_carry_it() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Stack", env=Environment(account=ACCOUNT, region=REGION))
    alias = kms.Alias.from_alias_name(stack, "Imported", "alias/orders-copies")
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, kms_key=alias)
    template = app.synth().get_stack_by_name("Stack").template  # cdk-nag: the wildcard is acknowledged
    [statement] = kms_statements(template)
    assert statement["Resource"] == partition_arn(f":kms:{REGION}:{ACCOUNT}:key/*")
    assert statement["Condition"]["ForAnyValue:StringLike"] == {
        "kms:ResourceAliases": ["alias/orders-copies"]
    }
    assert "kms:ViaService" in statement["Condition"]["StringEquals"]
    [copy] = [r for r in template["Resources"].values() if r["Type"] == "Custom::CopiedSnapshot"]
    assert copy["Properties"]["KmsKeyId"] == partition_arn(f":kms:{REGION}:{ACCOUNT}:alias/orders-copies")
