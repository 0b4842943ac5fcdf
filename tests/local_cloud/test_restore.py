"""End to end on the local cloud: a copy and a cluster restored from it into a VPC, with the real bundled
handler, in the hostile order (what nothing declares a need for is created last and deleted first)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2

from copied_snapshot import CopiedSnapshot, RestoredCluster
from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import DeployFailed
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.docdb_elastic.state import Durations
from tests.support.apps import cdk_json_context
from tests.support.constants import ACCOUNT, REGION, snapshot_arn

SOURCE = snapshot_arn("restore-e2e-source")
# Simulated seconds: 0.5 to 1.5 s at the time scale of 240.
FAST = Durations(cluster=120, snapshot=120, copy=240, delete=120, restore=360, update=240)
ZONES = {f"availability-zones:account={ACCOUNT}:region={REGION}": [f"{REGION}a", f"{REGION}b"]}
_numbers = itertools.count()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("cloud")
    with LocalCloud(state_dir, time_scale=240.0, durations=FAST, order=Order.hostile()) as running:
        running.seed_source_snapshot(SOURCE, tags={"team": "orders"})
        yield running


def synth(tmp_path: Path, stack_name: str, cluster_name: str, tags: dict[str, str]) -> Path:
    """One stack: a copy of the source, and a cluster restored from the copy into a VPC of the stack."""
    app = App(outdir=str(tmp_path / f"cdk.out.{next(_numbers)}"), context={**cdk_json_context(), **ZONES})
    stack = Stack(app, stack_name, env=Environment(account=ACCOUNT, region=REGION))
    copy = CopiedSnapshot(
        stack, "Copy", source_snapshot_arn=SOURCE, target_snapshot_name=f"{cluster_name}-copy"
    )
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    RestoredCluster(stack, "Cluster", snapshot=copy, vpc=vpc, cluster_name=cluster_name, tags=tags)
    return Path(app.synth().directory)


def clusters(cloud: LocalCloud, name: str) -> list[dict[str, Any]]:
    return [item for item in cloud.docdb.backend.state()["clusters"] if item["clusterName"] == name]


def cluster_timelines(cloud: LocalCloud, stack_name: str) -> list[Any]:
    return [t for t in cloud.custom.timelines if t.stack == stack_name and t.logical_id.startswith("Cluster")]


def cluster_arn(cloud: LocalCloud, stack_name: str) -> str:
    state = cloud.store.load(stack_name)
    assert state is not None
    return state.resources[next(name for name in state.resources if name.startswith("Cluster"))].physical_id


def test_a_cluster_is_restored_from_the_copy_retagged_in_place_and_deleted(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    cloud.deploy(synth(tmp_path, "E2eRestore", "e2e-restored", {"team": "data", "tier": "gold"}))
    arn = cluster_arn(cloud, "E2eRestore")
    [cluster] = clusters(cloud, "e2e-restored")
    assert (cluster["clusterArn"], cluster["status"]) == (arn, "ACTIVE")
    subnets = cloud.client("ec2", REGION).describe_subnets(SubnetIds=cluster["subnetIds"])["Subnets"]
    assert sorted(subnet["AvailabilityZone"] for subnet in subnets) == [f"{REGION}a", f"{REGION}b"]
    groups = cloud.client("ec2", REGION).describe_security_groups(GroupIds=cluster["vpcSecurityGroupIds"])
    assert len(groups["SecurityGroups"]) == 1

    cloud.deploy(synth(tmp_path, "E2eRestore", "e2e-restored", {"team": "data", "stage": "dr"}))
    assert cluster_arn(cloud, "E2eRestore") == arn
    [cluster] = clusters(cloud, "e2e-restored")
    mine = {key: value for key, value in cluster["tags"].items() if not key.startswith("copied-snapshot:")}
    assert mine == {"team": "data", "stage": "dr"}

    assert cloud.engine.destroy("E2eRestore")
    assert clusters(cloud, "e2e-restored") == []  # the Delete was answered once the cluster was gone
    requests = [(t.request_type, t.status, t.physical_id) for t in cluster_timelines(cloud, "E2eRestore")]
    assert requests == [("Create", "SUCCESS", arn), ("Update", "SUCCESS", arn), ("Delete", "SUCCESS", arn)]


def test_a_failed_restore_rolls_back_and_leaves_no_cluster(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.docdb.faults.end_restores("INVALID_SUBNET_ID", name="e2e-doomed", times=1)
    with pytest.raises(DeployFailed, match="INVALID_SUBNET_ID"):
        cloud.deploy(synth(tmp_path, "E2eRestoreDoomed", "e2e-doomed", {}))
    assert cloud.store.load("E2eRestoreDoomed") is None
    assert clusters(cloud, "e2e-doomed") == []
    timelines = cluster_timelines(cloud, "E2eRestoreDoomed")
    assert [(t.request_type, t.status) for t in timelines] == [("Create", "FAILED"), ("Delete", "SUCCESS")]
    # The Create answered with the cluster it made, so that the rollback's Delete removed it.
    assert timelines[0].physical_id == timelines[1].physical_id
    assert ":cluster/" in timelines[0].physical_id
