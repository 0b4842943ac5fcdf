"""The RestoredCluster construct: props, attributes, connections, validation, IAM and cdk-nag."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import (
    CfnParameter,
    CfnResource,
    Duration,
    Environment,
    RemovalPolicy,
    Stack,
    Tags,
    Token,
    Validations,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

from copied_snapshot import CopiedSnapshot, RestoredCluster, RuleViolation
from copied_snapshot.handler_function import SnapshotCopyHandler
from tests.support.apps import cdk_json_context, new_app, partition_arn

ACCOUNT, REGION = "123456789012", "us-east-1"
ENV = Environment(account=ACCOUNT, region=REGION)
SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/source-1"
COPY = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/copy-1"
TYPE = "Custom::RestoredCluster"
RESTRICT_DEFAULT_SG_FLAG = "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup"


def isolated_vpc(stack: Stack, max_azs: int = 2) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=max_azs,
        nat_gateways=0,
        restrict_default_security_group=False,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )


def nag_clean_vpc(stack: Stack) -> ec2.Vpc:
    vpc = isolated_vpc(stack)
    ec2.FlowLog(stack, "FlowLog", resource_type=ec2.FlowLogResourceType.from_vpc(vpc))
    return vpc


@dataclass
class Full:
    stack: Stack
    copy: CopiedSnapshot
    cluster: RestoredCluster
    template: Template

    def ids(self, type_name: str) -> list[str]:
        return list(self.template.find_resources(type_name))

    def cluster_resource(self) -> dict[str, Any]:
        [resource] = self.template.find_resources(TYPE).values()
        return dict(resource)


@pytest.fixture(scope="module")
def full() -> Full:
    """A copy with its key, and a cluster restored from it with every prop set; nag-checked at synth."""
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Stack", env=ENV)
    copy_key = kms.Key(stack, "CopyKey", enable_key_rotation=True)
    cluster_key = kms.Key(stack, "ClusterKey", enable_key_rotation=True)
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, kms_key=copy_key)
    vpc = nag_clean_vpc(stack)
    cluster = RestoredCluster(
        stack,
        "Cluster",
        snapshot=copy,
        cluster_name="orders-restored",
        vpc=vpc,
        shard_capacity=8,
        shard_instance_count=2,
        kms_key=cluster_key,
        tags={"team": "data"},
        removal_policy=RemovalPolicy.RETAIN,
        timeout=Duration.minutes(40),
    )
    Tags.of(stack).add("env", "prod")
    app.synth()  # cdk-nag raises on any unacknowledged finding
    return Full(stack, copy, cluster, Template.from_stack(stack))


def key_id(full: Full, path: str) -> str:
    key = full.stack.node.find_child(path).node.default_child
    assert isinstance(key, CfnResource)
    return full.stack.get_logical_id(key)


def test_every_prop_reaches_the_resource(full: Full) -> None:
    [copy_id] = full.ids("Custom::CopiedSnapshot")
    [group_id] = full.ids("AWS::EC2::SecurityGroup")
    subnet_ids = full.ids("AWS::EC2::Subnet")
    [function_id] = full.ids("AWS::Lambda::Function")
    resource = full.cluster_resource()
    assert resource["Properties"] == {
        "ServiceToken": {"Fn::GetAtt": [function_id, "Arn"]},
        "ServiceTimeout": "2700",
        "SnapshotArn": {"Fn::GetAtt": [copy_id, "SnapshotArn"]},
        "ClusterName": "orders-restored",
        "NameGenerated": False,
        "SubnetIds": [{"Ref": subnet_id} for subnet_id in subnet_ids],
        "VpcSecurityGroupIds": [{"Fn::GetAtt": [group_id, "GroupId"]}],
        "ShardCapacity": 8,
        "ShardInstanceCount": 2,
        "KmsKeyId": {"Fn::GetAtt": [key_id(full, "ClusterKey"), "Arn"]},
        "TimeoutSeconds": 2400,
        "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "data"}],
    }
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_defaults_and_a_generated_name() -> None:
    def declare() -> tuple[RestoredCluster, dict[str, Any]]:
        stack = Stack(new_app(), "Orders-Stack", env=ENV)
        snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
        cluster = RestoredCluster(stack, "Restored", snapshot=snapshot, vpc=isolated_vpc(stack))
        [resource] = Template.from_stack(stack).find_resources(TYPE).values()
        return cluster, dict(resource)

    cluster, resource = declare()
    props = resource["Properties"]
    assert props["SnapshotArn"] == COPY
    assert props["NameGenerated"] is True
    assert (props["TimeoutSeconds"], props["ServiceTimeout"]) == (3300, "3600")
    for absent in ("ShardCapacity", "ShardInstanceCount", "KmsKeyId", "Tags"):
        assert absent not in props
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")
    name = cluster.cluster_name
    assert name == declare()[0].cluster_name  # deterministic
    assert name[0].isalpha() and name == name.lower() and len(name) <= 63 and "--" not in name


def test_attributes_are_get_att_tokens(full: Full) -> None:
    [logical_id] = full.ids(TYPE)
    for attribute, name in {
        "cluster_arn": "ClusterArn",
        "cluster_endpoint": "ClusterEndpoint",
        "cluster_port": "Port",
    }.items():
        value = getattr(full.cluster, attribute)
        assert Token.is_unresolved(value)
        assert full.stack.resolve(value) == {"Fn::GetAtt": [logical_id, name]}


def test_connections_open_the_default_port() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    vpc = isolated_vpc(stack)
    cluster = RestoredCluster(
        stack, "Cluster", snapshot=CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY), vpc=vpc
    )
    app_group = ec2.SecurityGroup(stack, "App", vpc=vpc)
    cluster.connections.allow_default_port_from(app_group)
    [group_id] = [
        logical_id
        for logical_id, group in Template.from_stack(stack).find_resources("AWS::EC2::SecurityGroup").items()
        if "Restored DocumentDB Elastic cluster" in group["Properties"]["GroupDescription"]
    ]
    Template.from_stack(stack).has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 27017,
            "ToPort": 27017,
            "IpProtocol": "tcp",
            "GroupId": {"Fn::GetAtt": [group_id, "GroupId"]},
        },
    )


def test_given_security_groups_are_used_and_none_is_made() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    vpc = isolated_vpc(stack)
    group = ec2.SecurityGroup(stack, "Db", vpc=vpc)
    cluster = RestoredCluster(
        stack,
        "Cluster",
        snapshot=CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY),
        vpc=vpc,
        security_groups=[group],
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::SecurityGroup", 1)
    [resource] = template.find_resources(TYPE).values()
    assert resource["Properties"]["VpcSecurityGroupIds"] == [stack.resolve(group.security_group_id)]
    assert cluster.connections.security_groups == [group]


def test_the_handler_is_shared_with_copies_and_the_cluster_waits_for_it(full: Full) -> None:
    full.template.resource_count_is("AWS::Lambda::Function", 1)
    handler = SnapshotCopyHandler.of(full.stack)
    needed = {
        full.stack.get_logical_id(child)
        for child in [
            *handler.node.find_all(),
            *full.cluster.node.find_child("HandlerPolicy").node.find_all(),
        ]
        if isinstance(child, CfnResource)
    }
    [cluster_id] = full.ids(TYPE)
    assert needed <= set(full.cluster_resource()["DependsOn"])
    template = full.template.to_json()
    assert {template["Resources"][i]["Type"] for i in needed} >= {
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
    }
    assert cluster_id not in json.dumps(template["Resources"][full.ids("Custom::CopiedSnapshot")[0]])


def statements(template: Template, policy_id: str) -> list[dict[str, Any]]:
    policy = template.to_json()["Resources"][policy_id]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_cluster_policy_grants_exactly_what_the_restore_needs(full: Full) -> None:
    cluster_policy = full.cluster.node.find_child("HandlerPolicy").node.default_child
    assert isinstance(cluster_policy, CfnResource)
    [copy_id] = full.ids("Custom::CopiedSnapshot")
    [group_id] = full.ids("AWS::EC2::SecurityGroup")
    [vpc_id] = full.ids("AWS::EC2::VPC")
    subnet_ids = full.ids("AWS::EC2::Subnet")
    clusters = partition_arn(f":docdb-elastic:{REGION}:{ACCOUNT}:cluster/*")
    via = {"Fn::Join": ["", [f"docdb-elastic.{REGION}.", {"Ref": "AWS::URLSuffix"}]]}

    def ec2_arn(kind: str, ref: dict[str, Any]) -> dict[str, Any]:
        return {"Fn::Join": ["", [partition_arn(f":ec2:{REGION}:{ACCOUNT}:{kind}/"), ref]]}

    assert statements(full.template, full.stack.get_logical_id(cluster_policy)) == [
        {
            "Action": "docdb-elastic:RestoreClusterFromSnapshot",
            "Effect": "Allow",
            "Resource": [clusters, {"Fn::GetAtt": [copy_id, "SnapshotArn"]}],
        },
        {"Action": "docdb-elastic:CreateCluster", "Effect": "Allow", "Resource": "*"},
        {"Action": "docdb-elastic:TagResource", "Effect": "Allow", "Resource": clusters},
        {
            "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
            "Condition": {"StringEquals": {"kms:ViaService": via}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id(full, "CopyKey"), "Arn"]},
        },
        {
            "Action": ["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint"],
            "Effect": "Allow",
            "Resource": [
                partition_arn(f":ec2:{REGION}:{ACCOUNT}:vpc-endpoint/*"),
                ec2_arn("security-group", {"Fn::GetAtt": [group_id, "GroupId"]}),
                *(ec2_arn("subnet", {"Ref": subnet_id}) for subnet_id in sorted(subnet_ids)),
                ec2_arn("vpc", {"Ref": vpc_id}),
            ],
        },
    ]


def test_the_shared_policy_manages_clusters_and_encrypts_with_the_cluster_key(full: Full) -> None:
    handler = SnapshotCopyHandler.of(full.stack)
    policy = handler.policy.node.default_child
    assert isinstance(policy, CfnResource)
    found = statements(full.template, full.stack.get_logical_id(policy))
    by_sid = {statement.get("Sid"): statement for statement in found}
    assert by_sid["ManageClusters"] == {
        "Sid": "ManageClusters",
        "Effect": "Allow",
        "Action": [
            "docdb-elastic:DeleteCluster",
            "docdb-elastic:GetCluster",
            "docdb-elastic:ListTagsForResource",
            "docdb-elastic:TagResource",
            "docdb-elastic:UntagResource",
            "docdb-elastic:UpdateCluster",
        ],
        "Resource": partition_arn(f":docdb-elastic:{REGION}:{ACCOUNT}:cluster/*"),
    }
    assert by_sid["DescribeClusterNetwork"] == {
        "Sid": "DescribeClusterNetwork",
        "Effect": "Allow",
        "Action": [
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeVpcs",
        ],
        "Resource": "*",
    }
    assert by_sid["FindClustersByName"] == {
        "Sid": "FindClustersByName",
        "Effect": "Allow",
        "Action": "docdb-elastic:ListClusters",
        "Resource": "*",
    }
    # cdk.json's minimizePolicies renders resources sorted.
    assert by_sid["EncryptCopies"]["Resource"] == [
        {"Fn::GetAtt": [key_id(full, "ClusterKey"), "Arn"]},
        {"Fn::GetAtt": [key_id(full, "CopyKey"), "Arn"]},
    ]
    # The shared policy never names a copy of this stack: copies depend on it.
    [copy_id] = full.ids("Custom::CopiedSnapshot")
    assert copy_id not in json.dumps(found)
    assert "ec2:CreateTags" not in json.dumps(full.template.to_json())


def test_cdk_nag_is_clean_for_an_imported_snapshot_with_an_alias_key_too() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Stack", env=ENV)
    snapshot = CopiedSnapshot.from_snapshot_arn(
        stack, "Copy", COPY, snapshot_kms_key_id=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"
    )
    alias = kms.Alias.from_alias_name(stack, "Alias", "alias/orders")
    RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=nag_clean_vpc(stack), kms_key=alias)
    app.synth()


def test_cdk_nag_would_catch_an_unacknowledged_wildcard() -> None:
    """Guards the nag tests: the same set-up fails on a wildcard nobody acknowledged."""
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Stack", env=ENV)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=nag_clean_vpc(stack))
    iam.Policy(
        stack,
        "Extra",
        roles=[SnapshotCopyHandler.of(stack).role],
        statements=[iam.PolicyStatement(actions=["docdb-elastic:GetCluster"], resources=["*"])],
    )
    with pytest.raises(RuntimeError, match=r"Stack/Extra/Resource[\s\S]*AwsSolutions-IAM5"):
        app.synth()


def test_an_environment_agnostic_stack_synthesizes_and_is_nag_clean() -> None:
    app = new_app()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Agnostic")
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    RestoredCluster(stack, "Cluster", snapshot=copy, vpc=nag_clean_vpc(stack))
    app.synth()


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"cluster_name": "orders--db"}, "invalid cluster name 'orders--db'.*consecutive"),
        ({"cluster_name": "1db"}, "'1db'.*start with a letter"),
        ({"shard_capacity": 3}, r"must be one of 2, 4, 8, 16, 32, 64 \(vCPUs per shard\), got 3"),
        ({"shard_instance_count": 0}, "shard instance count must be a whole number from 1"),
        ({"shard_capacity": 3, "shard_instance_count": 17}, "got 3; shard instance count .* got 17"),
        ({"tags": {"aws:team": "x"}}, "tag key 'aws:team'"),
        (
            {"removal_policy": RemovalPolicy.SNAPSHOT},
            "removal policy SNAPSHOT is not supported for a restored",
        ),
        ({"timeout": Duration.minutes(56)}, "timeout of 3360 seconds is out of range"),
        ({"security_groups": []}, "security_groups is empty"),
        (
            {"vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)},
            "There are no 'Public' subnet groups",
        ),
    ],
)
def test_invalid_props_raise_at_construction(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    vpc = isolated_vpc(stack)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    with pytest.raises((ValueError, RuntimeError), match=message):
        RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=vpc, **props)


def test_subnets_in_one_availability_zone_are_refused() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    vpc = isolated_vpc(stack, max_azs=1)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    with pytest.raises(RuleViolation, match="invalid vpc_subnets: the subnets are in 1 Availability Zone"):
        RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=vpc)


def test_a_selection_of_no_subnets_is_refused() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    vpc = isolated_vpc(stack)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    with pytest.raises(RuleViolation, match="no subnets are selected"):
        RestoredCluster(
            stack, "Cluster", snapshot=snapshot, vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnets=[])
        )


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (COPY.replace(REGION, "us-west-2"), f"is in region us-west-2, not {REGION}: a cluster is restored"),
        (COPY.replace(ACCOUNT, "210987654321"), f"is in account 210987654321, not {ACCOUNT}: a cluster"),
    ],
)
def test_a_snapshot_of_another_region_or_account_is_refused(snapshot: str, message: str) -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    imported = CopiedSnapshot.from_snapshot_arn(stack, "Copy", snapshot)
    with pytest.raises(RuleViolation, match=message):
        RestoredCluster(stack, "Cluster", snapshot=imported, vpc=isolated_vpc(stack))


def test_a_key_of_another_region_is_refused() -> None:
    app = new_app()
    key = kms.Key(Stack(app, "Keys", env=Environment(account=ACCOUNT, region="eu-west-1")), "Key")
    stack = Stack(app, "Stack", env=ENV)
    with pytest.raises(RuleViolation, match="is in eu-west-1 but the cluster is made in us-east-1"):
        RestoredCluster(
            stack,
            "Cluster",
            snapshot=CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY),
            vpc=isolated_vpc(stack),
            kms_key=key,
        )


def test_tokens_are_left_to_the_handler() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    name = CfnParameter(stack, "Name").value_as_string
    capacity = CfnParameter(stack, "Capacity", type="Number").value_as_number
    cluster = RestoredCluster(
        stack,
        "Cluster",
        snapshot=CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY),
        cluster_name=name,
        vpc=isolated_vpc(stack),
        shard_capacity=capacity,  # type: ignore[arg-type]  # a token number, as CDK passes them
    )
    [resource] = Template.from_stack(stack).find_resources(TYPE).values()
    assert resource["Properties"]["ClusterName"] == {"Ref": "Name"}
    assert resource["Properties"]["ShardCapacity"] == {"Ref": "Capacity"}
    assert cluster.cluster_name == name


def test_apply_removal_policy() -> None:
    stack = Stack(new_app(), "Stack", env=ENV)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    cluster = RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=isolated_vpc(stack))
    cluster.apply_removal_policy(RemovalPolicy.RETAIN)
    Template.from_stack(stack).has_resource(
        TYPE, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    with pytest.raises(RuleViolation, match="removal policy SNAPSHOT"):
        cluster.apply_removal_policy(RemovalPolicy.SNAPSHOT)


def test_tags_added_by_scope_are_validated_at_synth() -> None:
    app = new_app()
    stack = Stack(app, "Stack", env=ENV)
    snapshot = CopiedSnapshot.from_snapshot_arn(stack, "Copy", COPY)
    RestoredCluster(stack, "Cluster", snapshot=snapshot, vpc=isolated_vpc(stack))
    Tags.of(stack).add("bad*key", "x")
    with pytest.raises(RuntimeError, match=r"tag key 'bad\*key' must match"):
        app.synth()


def test_the_apps_context_keeps_cdks_node_custom_resource_out_of_a_vpc() -> None:
    """With `@aws-cdk/aws-ec2:restrictDefaultSecurityGroup` on, every ec2.Vpc gets a Node.js custom resource
    (and its Lambda) that the local cloud cannot run: the app's cdk.json leaves the flag off."""
    context = cdk_json_context()
    assert not context.get(RESTRICT_DEFAULT_SG_FLAG, False)

    def custom_resources(flag: bool) -> list[str]:
        stack = Stack(new_app(**context, **{RESTRICT_DEFAULT_SG_FLAG: flag}), "Stack", env=ENV)
        ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
        return [
            resource["Type"]
            for resource in Template.from_stack(stack).to_json()["Resources"].values()
            if resource["Type"].startswith("Custom::")
        ]

    assert custom_resources(flag=False) == []
    assert custom_resources(flag=True) == ["Custom::VpcRestrictDefaultSG"]  # the test would see it


def test_cfn_lint_finds_no_errors(full: Full) -> None:
    matches = lint(json.dumps(full.template.to_json()), config=ManualArgs(regions=[REGION]))
    assert [str(match) for match in matches if match.rule.id.startswith("E")] == []
