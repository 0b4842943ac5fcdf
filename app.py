#!/usr/bin/env python3
"""Example app: a cross-region, re-encrypted snapshot copy, and a second stack that uses its ARN.

Context (`cdk synth -c key=value`), with defaults that the offline demo uses:
- sourceSnapshotArn: the snapshot to copy (default: a snapshot in us-west-2 of account 123456789012)
- account, region: where the copy is made (default: 123456789012, us-east-1)
"""

from __future__ import annotations

from aws_cdk import App, CfnOutput, Duration, Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from copied_snapshot import CopiedSnapshot

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_SOURCE_SNAPSHOT_ARN = (
    f"arn:aws:docdb-elastic:us-west-2:{DEFAULT_ACCOUNT}:cluster-snapshot/orders-nightly-source"
)


class SnapshotCopyStack(Stack):
    """Copies the source snapshot into this stack's region, encrypted with a key of this region."""

    def __init__(self, scope: Construct, id: str, *, source_snapshot_arn: str, env: Environment) -> None:
        super().__init__(scope, id, env=env)
        key = kms.Key(
            self,
            "CopyKey",
            description="Encrypts the disaster-recovery copy of the orders snapshot",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.copy = CopiedSnapshot(
            self,
            "OrdersDrCopy",
            source_snapshot_arn=source_snapshot_arn,
            target_snapshot_name="orders-dr-copy",
            kms_key=key,
            copy_tags=True,
            tags={"purpose": "disaster-recovery"},
            timeout=Duration.minutes(30),
        )
        CfnOutput(self, "CopyArn", value=self.copy.snapshot_arn, description="ARN of the snapshot copy")
        CfnOutput(self, "CopyStatus", value=self.copy.snapshot_status)


class SnapshotConsumerStack(Stack):
    """Uses the copy's ARN from the other stack: publishes it for the restore tooling to find."""

    def __init__(self, scope: Construct, id: str, *, snapshot_arn: str, env: Environment) -> None:
        super().__init__(scope, id, env=env)
        parameter = ssm.StringParameter(
            self,
            "RestoreSource",
            parameter_name="/orders/restore/snapshot-arn",
            string_value=snapshot_arn,
            description="Snapshot that the orders restore runbook restores from",
        )
        CfnOutput(self, "RestoreSnapshotArn", value=parameter.string_value)


def build(app: App) -> tuple[SnapshotCopyStack, SnapshotConsumerStack]:
    env = Environment(
        account=str(app.node.try_get_context("account") or DEFAULT_ACCOUNT),
        region=str(app.node.try_get_context("region") or DEFAULT_REGION),
    )
    source = str(app.node.try_get_context("sourceSnapshotArn") or DEFAULT_SOURCE_SNAPSHOT_ARN)
    copy_stack = SnapshotCopyStack(app, "SnapshotCopyStack", source_snapshot_arn=source, env=env)
    consumer = SnapshotConsumerStack(
        app, "SnapshotConsumerStack", snapshot_arn=copy_stack.copy.snapshot_arn, env=env
    )
    Tags.of(app).add("project", "copied-snapshot-example")
    return copy_stack, consumer


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()
