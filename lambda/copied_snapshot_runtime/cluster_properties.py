"""A restored cluster's properties: the contract between the RestoredCluster construct and the handler.

CloudFormation delivers every scalar as a string ("true", "16"), so parsing accepts both the typed values the
construct writes and their string forms. Names shared with the copy (KmsKeyId, Tags, TimeoutSeconds, the
timeout's range) come from `properties`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from copied_snapshot_runtime import cluster_rules, properties, rules
from copied_snapshot_runtime.properties import InvalidProperties

RESOURCE_TYPE = "Custom::RestoredCluster"

SNAPSHOT_ARN = "SnapshotArn"
CLUSTER_NAME = "ClusterName"
# True when the construct generated the name: a replacement may then pick another.
NAME_GENERATED = "NameGenerated"
SUBNET_IDS = "SubnetIds"
VPC_SECURITY_GROUP_IDS = "VpcSecurityGroupIds"
SHARD_CAPACITY = "ShardCapacity"
SHARD_INSTANCE_COUNT = "ShardInstanceCount"
KMS_KEY_ID = properties.KMS_KEY_ID
TAGS = properties.TAGS
TIMEOUT_SECONDS = properties.TIMEOUT_SECONDS

ACCEPTED = (
    properties.SERVICE_TOKEN,
    properties.SERVICE_TIMEOUT,
    SNAPSHOT_ARN,
    CLUSTER_NAME,
    NAME_GENERATED,
    SUBNET_IDS,
    VPC_SECURITY_GROUP_IDS,
    SHARD_CAPACITY,
    SHARD_INSTANCE_COUNT,
    KMS_KEY_ID,
    TAGS,
    TIMEOUT_SECONDS,
)

# The attributes the handler answers with (Fn::GetAtt names).
CLUSTER_ARN_ATTRIBUTE = "ClusterArn"
CLUSTER_ENDPOINT_ATTRIBUTE = "ClusterEndpoint"
PORT_ATTRIBUTE = "Port"
# Assumed: elastic clusters listen on DocumentDB's default port; the API reports no port.
DEFAULT_PORT = 27017


@dataclass(frozen=True)
class ClusterProperties:
    snapshot_arn: str
    cluster_name: str
    name_generated: bool = False
    subnet_ids: tuple[str, ...] = ()
    vpc_security_group_ids: tuple[str, ...] = ()
    shard_capacity: int | None = None
    shard_instance_count: int | None = None
    kms_key_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = properties.DEFAULT_TIMEOUT_SECONDS


def _pascal(member: str) -> str:
    return member[:1].upper() + member[1:]


def required_properties() -> tuple[str, ...]:
    """The properties that must be given: the model's required members of RestoreClusterFromSnapshot."""
    return tuple(_pascal(member) for member in cluster_rules.required_request_members())


def parse_int(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidProperties(f"{name} must be a whole number, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise InvalidProperties(f"{name} must be a whole number, got {value!r}") from None


def parse_strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidProperties(f"{name} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def parse_timeout(value: object) -> int:
    """Whole seconds within the same range as a copy's: a token timeout is known only at deploy time."""
    seconds = parse_int(value, TIMEOUT_SECONDS)
    if seconds is None:
        return properties.DEFAULT_TIMEOUT_SECONDS
    if not properties.MIN_TIMEOUT_SECONDS <= seconds <= properties.MAX_TIMEOUT_SECONDS:
        raise InvalidProperties(
            f"{TIMEOUT_SECONDS} (the RestoredCluster timeout) must be {properties.MIN_TIMEOUT_SECONDS} to "
            f"{properties.MAX_TIMEOUT_SECONDS} seconds, within CloudFormation's ServiceTimeout, got {seconds}"
        )
    return seconds


def parse_cluster_properties(raw: Mapping[str, Any]) -> ClusterProperties:
    """Checks and types the properties; raises InvalidProperties or rules.RuleViolation."""
    unknown = sorted(set(raw) - set(ACCEPTED))
    if unknown:
        raise InvalidProperties(
            f"unknown properties {', '.join(unknown)}; accepted are {', '.join(ACCEPTED)}"
        )
    for required in required_properties():
        if not raw.get(required):
            raise InvalidProperties(f"{required} is required")
    snapshot_arn = str(raw[SNAPSHOT_ARN])
    rules.check_snapshot_arn(snapshot_arn, "snapshot ARN")
    name = str(raw[CLUSTER_NAME])
    cluster_rules.check_cluster_name(name)
    shard_capacity = parse_int(raw.get(SHARD_CAPACITY), SHARD_CAPACITY)
    if shard_capacity is not None:
        cluster_rules.check(cluster_rules.shard_capacity_problems(shard_capacity), SHARD_CAPACITY)
    shard_instance_count = parse_int(raw.get(SHARD_INSTANCE_COUNT), SHARD_INSTANCE_COUNT)
    if shard_instance_count is not None:
        cluster_rules.check(
            cluster_rules.shard_instance_count_problems(shard_instance_count), SHARD_INSTANCE_COUNT
        )
    subnet_ids = parse_strings(raw.get(SUBNET_IDS), SUBNET_IDS)
    if subnet_ids:
        cluster_rules.check(cluster_rules.subnet_problems(subnet_ids, None), SUBNET_IDS)
    kms_key_id = raw.get(KMS_KEY_ID)
    return ClusterProperties(
        snapshot_arn=snapshot_arn,
        cluster_name=name,
        name_generated=properties.parse_bool(raw.get(NAME_GENERATED, False), NAME_GENERATED),
        subnet_ids=subnet_ids,
        vpc_security_group_ids=parse_strings(raw.get(VPC_SECURITY_GROUP_IDS), VPC_SECURITY_GROUP_IDS),
        shard_capacity=shard_capacity,
        shard_instance_count=shard_instance_count,
        kms_key_id=str(kms_key_id) if kms_key_id else None,
        tags=properties.parse_tags(raw.get(TAGS)),
        timeout_seconds=parse_timeout(raw.get(TIMEOUT_SECONDS)),
    )
