"""One function per supported operation: validated parameters in, the operation's output shape out.

This is the thin layer between the wire format and the state, like the `responses` module of a moto
backend: it names members as the API does and leaves every rule to `state`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from copied_snapshot_local_cloud.docdb_elastic import errors
from copied_snapshot_local_cloud.docdb_elastic.identity import Caller
from copied_snapshot_local_cloud.docdb_elastic.state import (
    DEFAULT_MAINTENANCE_WINDOW,
    Backend,
    ClusterChanges,
)

Params = Mapping[str, Any]
Operation = Callable[[Backend, Caller, Params], dict[str, Any]]
DEFAULT_PAGE_SIZE = 100


def create_cluster(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    cluster = backend.create_cluster(
        caller,
        name=params["clusterName"],
        admin_user_name=params["adminUserName"],
        auth_type=params["authType"],
        shard_capacity=params["shardCapacity"],
        shard_count=params["shardCount"],
        shard_instance_count=params.get("shardInstanceCount"),
        kms_key_id=params.get("kmsKeyId", ""),
        subnet_ids=params.get("subnetIds", ()),
        vpc_security_group_ids=params.get("vpcSecurityGroupIds", ()),
        preferred_maintenance_window=params.get("preferredMaintenanceWindow", DEFAULT_MAINTENANCE_WINDOW),
        tags=params.get("tags"),
    )
    return {"cluster": cluster.view(backend.clock.now())}


def restore_cluster_from_snapshot(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    cluster = backend.restore_cluster(
        caller,
        snapshot_arn=params["snapshotArn"],
        name=params["clusterName"],
        kms_key_id=params.get("kmsKeyId", ""),
        shard_capacity=params.get("shardCapacity"),
        shard_instance_count=params.get("shardInstanceCount"),
        subnet_ids=params.get("subnetIds", ()),
        vpc_security_group_ids=params.get("vpcSecurityGroupIds", ()),
        tags=params.get("tags"),
    )
    return {"cluster": cluster.view(backend.clock.now())}


def get_cluster(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    return {"cluster": backend.cluster(caller, params["clusterArn"]).view(backend.clock.now())}


def list_clusters(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    """A page of clusters, with tokens as ListClusterSnapshots has them."""
    now = backend.clock.now()
    page, token = _page(backend.clusters(caller), params)
    return {"clusters": [cluster.summary(now) for cluster in page], **token}


def update_cluster(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    changes = ClusterChanges(
        auth_type=params.get("authType"),
        backup_retention_period=params.get("backupRetentionPeriod"),
        preferred_backup_window=params.get("preferredBackupWindow"),
        preferred_maintenance_window=params.get("preferredMaintenanceWindow"),
        shard_capacity=params.get("shardCapacity"),
        shard_count=params.get("shardCount"),
        shard_instance_count=params.get("shardInstanceCount"),
        subnet_ids=params.get("subnetIds"),
        vpc_security_group_ids=params.get("vpcSecurityGroupIds"),
    )
    cluster = backend.update_cluster(caller, params["clusterArn"], changes)
    return {"cluster": cluster.view(backend.clock.now())}


def delete_cluster(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    cluster = backend.delete_cluster(caller, params["clusterArn"])
    return {"cluster": cluster.view(backend.clock.now())}


def create_cluster_snapshot(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    snapshot = backend.create_snapshot(
        caller, cluster_arn=params["clusterArn"], name=params["snapshotName"], tags=params.get("tags")
    )
    return {"snapshot": snapshot.view(backend.clock.now())}


def copy_cluster_snapshot(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    snapshot = backend.copy_snapshot(
        caller,
        source_arn=params["snapshotArn"],
        target_name=params["targetSnapshotName"],
        kms_key_id=params.get("kmsKeyId"),
        copy_tags=bool(params.get("copyTags", False)),
        tags=params.get("tags"),
    )
    return {"snapshot": snapshot.view(backend.clock.now())}


def get_cluster_snapshot(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    return {"snapshot": backend.snapshot(caller, params["snapshotArn"]).view(backend.clock.now())}


def list_cluster_snapshots(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    now = backend.clock.now()
    found = backend.snapshots(
        caller, cluster_arn=params.get("clusterArn"), snapshot_type=params.get("snapshotType")
    )
    page, token = _page(found, params)
    return {"snapshots": [snapshot.summary(now) for snapshot in page], **token}


def delete_cluster_snapshot(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    snapshot = backend.delete_snapshot(caller, params["snapshotArn"])
    return {"snapshot": snapshot.view(backend.clock.now())}


def tag_resource(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    backend.tag(caller, params["resourceArn"], params["tags"])
    return {}


def untag_resource(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    backend.untag(caller, params["resourceArn"], params["tagKeys"])
    return {}


def list_tags_for_resource(backend: Backend, caller: Caller, params: Params) -> dict[str, Any]:
    return {"tags": backend.tags_of(caller, params["resourceArn"])}


SUPPORTED: dict[str, Operation] = {
    "CreateCluster": create_cluster,
    "RestoreClusterFromSnapshot": restore_cluster_from_snapshot,
    "GetCluster": get_cluster,
    "ListClusters": list_clusters,
    "UpdateCluster": update_cluster,
    "DeleteCluster": delete_cluster,
    "CreateClusterSnapshot": create_cluster_snapshot,
    "CopyClusterSnapshot": copy_cluster_snapshot,
    "GetClusterSnapshot": get_cluster_snapshot,
    "ListClusterSnapshots": list_cluster_snapshots,
    "DeleteClusterSnapshot": delete_cluster_snapshot,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}


class Sequenced(Protocol):
    @property
    def sequence(self) -> int: ...


_Item = TypeVar("_Item", bound=Sequenced)


def _page(found: list[_Item], params: Params) -> tuple[list[_Item], dict[str, str]]:
    """One page of `found` (oldest first) and the `nextToken` member when more follow. The token names the
    last item returned, so deletions between pages neither repeat nor skip the others."""
    after = _decode_token(params["nextToken"]) if params.get("nextToken") else 0
    size = int(params.get("maxResults", DEFAULT_PAGE_SIZE))
    rest = [item for item in found if item.sequence > after]
    page = rest[:size]
    return page, ({"nextToken": _encode_token(page[-1].sequence)} if len(rest) > size else {})


def _encode_token(sequence: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": sequence}).encode()).decode()


def _decode_token(token: str) -> int:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise errors.validation(f"nextToken {token!r} is not a token this service issued", "other") from error
    if not isinstance(after, int):
        raise errors.validation(f"nextToken {token!r} is not a token this service issued", "other")
    return after
