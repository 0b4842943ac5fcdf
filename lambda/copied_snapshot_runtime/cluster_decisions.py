"""What a RestoredCluster event or a cluster's state means. Pure functions: no AWS calls, no clock.

Statuses, ownership and tag changes follow the copy's rules in `decisions` (the API's `Status` shape is
shared by clusters and snapshots).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from copied_snapshot_runtime import cluster_properties, decisions
from copied_snapshot_runtime.cluster_properties import ClusterProperties

# Cluster ARN: arn:${Partition}:docdb-elastic:${Region}:${Account}:cluster/${ResourceId} (Service
# Authorization Reference, "Actions, resources, and condition keys for Amazon DocumentDB Elastic Clusters").
_CLUSTER_ARN = re.compile(r"arn:[a-z-]+:docdb-elastic:([a-z0-9-]+):(\d{12}):cluster/[A-Za-z0-9-]+")


def owned_cluster_arn(physical_id: str, region: str, account: str) -> str | None:
    """The cluster a physical id names, if it is a cluster ARN of this region and account (the only
    clusters this handler may touch); made-up ids and other places' ARNs are None."""
    match = _CLUSTER_ARN.fullmatch(physical_id)
    if match is None or match.group(1) != region or match.group(2) != account:
        return None
    return physical_id


def replaced_by(old: ClusterProperties, new: ClusterProperties) -> bool:
    """Whether an update needs a new cluster: UpdateCluster changes neither the snapshot a cluster was
    restored from, nor its name, nor its key (its input has no such members)."""
    return (
        old.snapshot_arn != new.snapshot_arn
        or old.cluster_name.lower() != new.cluster_name.lower()
        or old.kms_key_id != new.kms_key_id
    )


def update_arguments(old: ClusterProperties, new: ClusterProperties) -> dict[str, Any]:
    """The UpdateCluster members (besides clusterArn) that take the cluster from `old` to `new` in place.

    A setting the new properties leave out is left as the cluster has it: the API cannot unset it.
    """
    arguments: dict[str, Any] = {}
    if new.shard_capacity is not None and new.shard_capacity != old.shard_capacity:
        arguments["shardCapacity"] = new.shard_capacity
    if new.shard_instance_count is not None and new.shard_instance_count != old.shard_instance_count:
        arguments["shardInstanceCount"] = new.shard_instance_count
    if new.subnet_ids and set(new.subnet_ids) != set(old.subnet_ids):
        arguments["subnetIds"] = list(new.subnet_ids)
    if new.vpc_security_group_ids and set(new.vpc_security_group_ids) != set(old.vpc_security_group_ids):
        arguments["vpcSecurityGroupIds"] = list(new.vpc_security_group_ids)
    return arguments


def replacement_name(old: ClusterProperties, new: ClusterProperties, request_id: str) -> str:
    """The name of the cluster that replaces the current one; both exist until CloudFormation deletes the
    old one, so a name the user chose must be changed by the user."""
    if old.cluster_name.lower() != new.cluster_name.lower():
        return new.cluster_name
    if not new.name_generated:
        raise decisions.NameKeptOnReplacement(
            f"cannot replace cluster {new.cluster_name!r} under the same name: the change needs a new "
            "cluster while the old one still exists; change cluster_name too, or omit it to let "
            "RestoredCluster generate names"
        )
    return decisions.name_with_suffix(new.cluster_name, request_id)


def owner_tag_value(stack_id: str, logical_id: str, props: ClusterProperties, name: str) -> str:
    """The ownership tag of a cluster: who made it and a digest of who and from what, as for a copy; a
    cluster carrying the same value was made by this very resource from these properties."""
    spec = "|".join(
        (stack_id, logical_id, props.snapshot_arn, name.lower(), props.kms_key_id or "", "cluster")
    )
    digest = hashlib.sha256(spec.encode()).hexdigest()[: decisions.DIGEST_LENGTH]
    return f"{decisions.owner_name(stack_id, logical_id)}#{digest}"


def attributes(cluster: Mapping[str, Any]) -> dict[str, str]:
    """The Fn::GetAtt attributes of a restored cluster, from a Cluster as the API returns it."""
    return {
        cluster_properties.CLUSTER_ARN_ATTRIBUTE: str(cluster.get("clusterArn", "")),
        cluster_properties.CLUSTER_ENDPOINT_ATTRIBUTE: str(cluster.get("clusterEndpoint", "")),
        cluster_properties.PORT_ATTRIBUTE: str(cluster_properties.DEFAULT_PORT),
    }
