"""The restored cluster's properties contract and its pure rules."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest

from copied_snapshot_runtime import cluster_properties, cluster_rules
from copied_snapshot_runtime.cluster_properties import ClusterProperties, parse_cluster_properties
from copied_snapshot_runtime.properties import InvalidProperties
from copied_snapshot_runtime.rules import RuleViolation

SNAPSHOT = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/copy-1"


def model_doc(operation: str, member: str) -> str:
    model = botocore.session.get_session().get_service_model("docdb-elastic")
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    return str(shape.members[member].documentation)


def test_every_property_as_cloudformation_delivers_it() -> None:
    parsed = parse_cluster_properties(
        {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:handler",
            "ServiceTimeout": "3600",
            "SnapshotArn": SNAPSHOT,
            "ClusterName": "orders-restored",
            "NameGenerated": "false",
            "SubnetIds": ["subnet-1", "subnet-2"],
            "VpcSecurityGroupIds": ["sg-1"],
            "ShardCapacity": "8",
            "ShardInstanceCount": "2",
            "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
            "Tags": [{"Key": "team", "Value": "data"}],
            "TimeoutSeconds": "1200",
        }
    )
    assert parsed == ClusterProperties(
        snapshot_arn=SNAPSHOT,
        cluster_name="orders-restored",
        name_generated=False,
        subnet_ids=("subnet-1", "subnet-2"),
        vpc_security_group_ids=("sg-1",),
        shard_capacity=8,
        shard_instance_count=2,
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k",
        tags={"team": "data"},
        timeout_seconds=1200,
    )


def test_defaults() -> None:
    parsed = parse_cluster_properties({"SnapshotArn": SNAPSHOT, "ClusterName": "c"})
    assert parsed == ClusterProperties(snapshot_arn=SNAPSHOT, cluster_name="c")
    assert (parsed.shard_capacity, parsed.kms_key_id, parsed.timeout_seconds) == (None, None, 3300)


def test_required_properties_come_from_the_model() -> None:
    assert set(cluster_properties.required_properties()) == {"SnapshotArn", "ClusterName"}
    with pytest.raises(InvalidProperties, match="ClusterName is required"):
        parse_cluster_properties({"SnapshotArn": SNAPSHOT})


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"Extra": "x"}, InvalidProperties, "unknown properties Extra"),
        ({"SnapshotArn": "copy-1"}, RuleViolation, "invalid snapshot ARN 'copy-1'"),
        ({"ClusterName": "orders--db"}, RuleViolation, "invalid cluster name 'orders--db'.*consecutive"),
        ({"ClusterName": "9db"}, RuleViolation, "'9db'.*start with a letter"),
        ({"ShardCapacity": "3"}, RuleViolation, "shard capacity must be one of 2, 4, 8, 16, 32, 64"),
        ({"ShardCapacity": "two"}, InvalidProperties, "ShardCapacity must be a whole number"),
        ({"ShardInstanceCount": "0"}, RuleViolation, "shard instance count must be .* from 1"),
        ({"ShardInstanceCount": "17"}, RuleViolation, "to 16, got 17"),
        ({"SubnetIds": "subnet-1"}, InvalidProperties, "SubnetIds must be a list"),
        ({"SubnetIds": ["subnet-1", "subnet-1"]}, RuleViolation, "a subnet is given twice"),
        ({"VpcSecurityGroupIds": [""]}, InvalidProperties, "VpcSecurityGroupIds must be a list"),
        ({"Tags": [{"Key": "aws:x", "Value": "v"}]}, RuleViolation, "tag key 'aws:x'"),
        ({"TimeoutSeconds": "59"}, InvalidProperties, "RestoredCluster timeout"),
        ({"NameGenerated": "maybe"}, InvalidProperties, "NameGenerated must be true or false"),
    ],
)
def test_invalid_properties(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_cluster_properties({"SnapshotArn": SNAPSHOT, "ClusterName": "orders", **changes})


def test_the_documented_rules_are_what_the_model_documents() -> None:
    """Guards the constants against botocore's model: its docs change, this fails."""
    for operation in ("CreateCluster", "UpdateCluster"):
        allowed = re.search(r"Allowed values are ([\d, ]+)\.", model_doc(operation, "shardCapacity"))
        assert allowed is not None
        assert tuple(int(value) for value in allowed.group(1).split(",")) == cluster_rules.SHARD_CAPACITIES
    name_doc = model_doc("CreateCluster", "clusterName")
    for rule in ("from 1 to 63 letters, numbers, or hyphens", "first character must be a letter"):
        assert rule in name_doc
    assert "value of 1 means there is one writer instance" in model_doc(
        "RestoreClusterFromSnapshot", "shardInstanceCount"
    )


@pytest.mark.parametrize(
    ("subnets", "zones", "problem"),
    [
        ([], None, "no subnets are selected"),
        (["a", "b"], ["us-east-1a", "us-east-1a"], "in 1 Availability Zone"),
        (["a", "a"], None, "given twice"),
    ],
)
def test_subnet_problems(subnets: list[str], zones: list[str] | None, problem: str) -> None:
    assert any(problem in found for found in cluster_rules.subnet_problems(subnets, zones))


def test_subnets_in_two_zones_or_of_unknown_zones_are_fine() -> None:
    assert cluster_rules.subnet_problems(["a", "b"], ["us-east-1a", "us-east-1b"]) == []
    assert cluster_rules.subnet_problems(["a"], None) == []


@pytest.mark.parametrize("value", [True, 2.0, "2"])
def test_shard_values_must_be_integers(value: object) -> None:
    assert cluster_rules.shard_capacity_problems(value)
    assert cluster_rules.shard_instance_count_problems(value)
