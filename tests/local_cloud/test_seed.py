"""The local cloud's seeded sources: an automated snapshot of a cluster, as the example app copies."""

from __future__ import annotations

from pathlib import Path

import app as example_app
from copied_snapshot_local_cloud.cloud import LocalCloud


def test_a_seeded_source_is_an_automated_snapshot_of_a_cluster_with_the_default_key(tmp_path: Path) -> None:
    arn = example_app.DEFAULT_SOURCE_SNAPSHOT_ARN
    other = arn.replace("orders-automated-source", "other-source")
    with LocalCloud(tmp_path) as cloud:
        cloud.seed_source_snapshot(arn, tags={"team": "orders"})
        cloud.seed_source_snapshot(other)
        state = cloud.docdb.backend.state()
    snapshots = {snapshot["snapshotArn"]: snapshot for snapshot in state["snapshots"]}
    clusters = {cluster["clusterArn"]: cluster for cluster in state["clusters"]}
    source = snapshots[arn]
    assert source["snapshotType"] == "AUTOMATED"
    assert source["tags"] == {"team": "orders"}
    cluster = clusters[source["clusterArn"]]
    assert cluster["clusterName"] == "orders-automated-source"
    key = source["kmsKeyId"]
    assert key.startswith(f"arn:aws:kms:{example_app.DEFAULT_REGION}:{example_app.DEFAULT_ACCOUNT}:key/")
    assert cluster["kmsKeyId"] == key
    assert snapshots[other]["kmsKeyId"] == key  # one default key per account and region
