"""The thin layer that calls the docdb-elastic cluster operations, with the snapshots' one retry policy.

Tagging (TagResource, UntagResource, ListTagsForResource) takes any docdb-elastic ARN and is inherited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from copied_snapshot_runtime.snapshots import Deletion, SnapshotService


class ClusterService(SnapshotService):
    def with_access_denied_budget(self, seconds: float) -> ClusterService:
        return ClusterService(self._client, self._sleep, access_denied_budget=seconds)

    def restore(
        self,
        snapshot_arn: str,
        cluster_name: str,
        *,
        kms_key_id: str | None,
        shard_capacity: int | None,
        shard_instance_count: int | None,
        subnet_ids: Sequence[str],
        vpc_security_group_ids: Sequence[str],
        tags: Mapping[str, str],
    ) -> Mapping[str, Any]:
        arguments: dict[str, Any] = {"snapshotArn": snapshot_arn, "clusterName": cluster_name}
        optional: dict[str, Any] = {
            "kmsKeyId": kms_key_id,
            "shardCapacity": shard_capacity,
            "shardInstanceCount": shard_instance_count,
            "subnetIds": list(subnet_ids),
            "vpcSecurityGroupIds": list(vpc_security_group_ids),
            "tags": dict(tags),
        }
        arguments.update({key: value for key, value in optional.items() if value})
        return self._call(self._client.restore_cluster_from_snapshot, **arguments)["cluster"]

    def get_cluster(self, cluster_arn: str) -> Mapping[str, Any] | None:
        """The cluster, or None when it does not exist (any more)."""
        try:
            return self._call(self._client.get_cluster, clusterArn=cluster_arn)["cluster"]
        except self._client.exceptions.ResourceNotFoundException:
            return None

    def find_cluster_by_name(self, name: str) -> Mapping[str, Any] | None:
        """The region's cluster of this name (names are not case sensitive), or None."""
        arguments: dict[str, Any] = {}
        while True:
            page = self._call(self._client.list_clusters, **arguments)
            for cluster in page.get("clusters", []):
                if str(cluster.get("clusterName", "")).lower() == name.lower():
                    return cluster
            if not page.get("nextToken"):
                return None
            arguments["nextToken"] = page["nextToken"]

    def update_cluster(self, cluster_arn: str, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._call(self._client.update_cluster, clusterArn=cluster_arn, **changes)["cluster"]

    def delete_cluster(self, cluster_arn: str) -> Deletion:
        try:
            self._call(self._client.delete_cluster, clusterArn=cluster_arn)
        except self._client.exceptions.ResourceNotFoundException:
            return Deletion.GONE
        except self._client.exceptions.ConflictException:
            return Deletion.BUSY
        return Deletion.STARTED
