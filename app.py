#!/usr/bin/env python3
"""Example app: keep a cluster's automated snapshot as a manual, re-encrypted, tagged copy.

Automated snapshots of a DocumentDB Elastic cluster expire with the cluster's backup retention period and are
deleted with the cluster. Copying one makes a manual snapshot that stays until the stack deletes it, encrypted
with a key this stack owns and tagged for whoever looks after it. Elastic cluster snapshots are copied
only within the same region and account (DocumentDB Developer Guide, "Managing elastic cluster snapshots"),
so the copy is made where the source is. A second stack consumes the copy through cross-stack references:
it publishes the copy's ARN (an SSM parameter that restore tooling reads) and restores a staging cluster
from the copy into a VPC of its own (two isolated subnets in two Availability Zones, no NAT), outputting the
cluster's endpoint.

Context (`cdk synth -c key=value`), with defaults that the offline demo uses:
- sourceSnapshotArn: the automated snapshot to copy (default: one of account 123456789012 in us-east-1)
- account, region: where the copy is made, the source's account and region (default: 123456789012,
  us-east-1)
"""

from __future__ import annotations

from aws_cdk import (
    Acknowledgment,
    App,
    CfnOutput,
    Duration,
    Environment,
    RemovalPolicy,
    Stack,
    Tags,
    Validations,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from copied_snapshot import CopiedSnapshot, RestoredCluster

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_SOURCE_SNAPSHOT_ARN = (
    f"arn:aws:docdb-elastic:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:cluster-snapshot/orders-automated-source"
)


class SnapshotCopyStack(Stack):
    """Keeps the automated snapshot as a manual copy, re-encrypted with this stack's key."""

    def __init__(self, scope: Construct, id: str, *, source_snapshot_arn: str, env: Environment) -> None:
        super().__init__(scope, id, env=env)
        key = kms.Key(
            self,
            "CopyKey",
            description="Encrypts the kept copy of the orders cluster's automated snapshot",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.copy = CopiedSnapshot(
            self,
            "OrdersKeptCopy",
            source_snapshot_arn=source_snapshot_arn,
            target_snapshot_name="orders-kept-copy",
            kms_key=key,
            copy_tags=True,
            tags={"purpose": "long-term-retention"},
            timeout=Duration.minutes(30),
        )
        CfnOutput(self, "CopyArn", value=self.copy.snapshot_arn, description="ARN of the snapshot copy")
        CfnOutput(self, "CopyStatus", value=self.copy.snapshot_status)


class SnapshotConsumerStack(Stack):
    """Uses the copy from the other stack: publishes its ARN for the restore tooling to find, and restores a
    staging cluster from it."""

    def __init__(self, scope: Construct, id: str, *, copy: CopiedSnapshot, env: Environment) -> None:
        super().__init__(scope, id, env=env)
        parameter = ssm.StringParameter(
            self,
            "RestoreSource",
            parameter_name="/orders/restore/snapshot-arn",
            string_value=copy.snapshot_arn,
            description="Snapshot that the orders restore runbook restores from",
        )
        CfnOutput(self, "RestoreSnapshotArn", value=parameter.string_value)
        # Isolated subnets only: the cluster needs no internet, so no NAT or internet gateway.
        vpc = ec2.Vpc(
            self,
            "StagingVpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
        )
        Validations.of(vpc).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-VPC7",
                reason="a staging VPC of the example, with isolated subnets only: flow logs are the "
                "operator's choice and cost",
            )
        )
        cluster = RestoredCluster(
            self,
            "StagingCluster",
            snapshot=copy,
            vpc=vpc,
            cluster_name="orders-staging",
            shard_capacity=2,
            shard_instance_count=1,
            tags={"purpose": "staging"},
        )
        CfnOutput(self, "StagingClusterEndpoint", value=cluster.cluster_endpoint)
        CfnOutput(self, "StagingClusterArn", value=cluster.cluster_arn)


def build(app: App) -> tuple[SnapshotCopyStack, SnapshotConsumerStack]:
    env = Environment(
        account=str(app.node.try_get_context("account") or DEFAULT_ACCOUNT),
        region=str(app.node.try_get_context("region") or DEFAULT_REGION),
    )
    source = str(app.node.try_get_context("sourceSnapshotArn") or DEFAULT_SOURCE_SNAPSHOT_ARN)
    # The zones `cdk synth` would look up and cache in cdk.context.json, assumed when not cached, so that the
    # app synthesizes offline: the region's zones a and b.
    zones_key = f"availability-zones:account={env.account}:region={env.region}"
    if app.node.try_get_context(zones_key) is None:
        app.node.set_context(zones_key, [f"{env.region}a", f"{env.region}b"])
    copy_stack = SnapshotCopyStack(app, "SnapshotCopyStack", source_snapshot_arn=source, env=env)
    consumer = SnapshotConsumerStack(app, "SnapshotConsumerStack", copy=copy_stack.copy, env=env)
    Tags.of(app).add("project", "copied-snapshot-example")
    return copy_stack, consumer


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()
