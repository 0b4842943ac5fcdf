"""Grants on a copy: any docdb-elastic actions on it, and what restoring a cluster from it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from copied_snapshot.handler_function import KMS_ACTIONS, key_use
from copied_snapshot_runtime import rules
from copied_snapshot_runtime.rules import RuleViolation

# The IAM actions the RestoreClusterFromSnapshot operation authorizes (Service Authorization Reference,
# "Actions, resources, and condition keys for Amazon DocumentDB Elastic Clusters"): RestoreClusterFromSnapshot
# on the snapshot and the cluster (both required resource types), CreateCluster (no resource type) and
# TagResource for the new cluster's tags.
RESTORE_ACTION = "docdb-elastic:RestoreClusterFromSnapshot"
CREATE_CLUSTER_ACTION = "docdb-elastic:CreateCluster"
TAG_ACTION = "docdb-elastic:TagResource"
_KEY_ARN = re.compile(rf"arn:(?:{rules.PARTITION_PATTERN}):kms:[a-z0-9-]+:\d{{12}}:key/[A-Za-z0-9-]+")


def grant_on_snapshot(grantee: iam.IGrantable, snapshot_arn: str, actions: tuple[str, ...]) -> iam.Grant:
    """`actions` on the snapshot, in the grantee's identity policy (snapshots have no resource policy)."""
    return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[snapshot_arn])


@dataclass(frozen=True)
class Permission:
    """One statement's worth of a grant: what `iam.Grant.add_to_principal` and `iam.PolicyStatement` take."""

    actions: list[str]
    resources: list[str]
    conditions: dict[str, Any] = field(default_factory=dict)

    def statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=self.actions, resources=self.resources, conditions=self.conditions or None
        )


def restore_permissions(
    scope: IConstruct, snapshot_arn: str, *, account: str, region: str, key: kms.IKey | str | None
) -> list[Permission]:
    """What restoring a cluster from the snapshot needs, scoped to it, its account and region, and its key.

    The EC2 permissions for the new cluster's VPC endpoints (dependent actions of the operation) are not
    included: the VPC is not the snapshot's.
    """
    stack = Stack.of(scope)
    clusters = stack.format_arn(
        service=rules.SERVICE, resource="cluster", resource_name="*", account=account, region=region
    )
    permissions = [
        Permission([RESTORE_ACTION], [snapshot_arn, clusters]),
        Permission([CREATE_CLUSTER_ACTION], ["*"]),
        Permission([TAG_ACTION], [clusters]),
    ]
    key_scope = _key_scope(key)
    if key_scope is not None:
        resources, conditions = key_scope
        via_docdb = {"kms:ViaService": f"docdb-elastic.{region}.{stack.url_suffix}"}
        permissions.append(Permission(KMS_ACTIONS, resources, {"StringEquals": via_docdb, **conditions}))
    return permissions


def grant_restore(
    scope: IConstruct,
    grantee: iam.IGrantable,
    snapshot_arn: str,
    *,
    account: str,
    region: str,
    key: kms.IKey | str | None,
) -> iam.Grant:
    """`restore_permissions` in the grantee's identity policy, as one `iam.Grant`."""
    grant: iam.Grant | None = None
    for permission in restore_permissions(scope, snapshot_arn, account=account, region=region, key=key):
        added = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=permission.actions,
            resource_arns=permission.resources,
            conditions=permission.conditions or None,
        )
        grant = added if grant is None else grant.combine(added)
    assert grant is not None  # restore_permissions always has the restore action
    return grant


def _key_scope(key: kms.IKey | str | None) -> tuple[list[str], dict[str, dict[str, list[str]]]] | None:
    """The key statement's resources and extra conditions; None when the key is not known.

    An alias ARN in a policy grants nothing on the key behind it: a `kms.IKey` alias is granted on its
    target key, or (imported by name only) on the keys that carry it, as the handler's own policy does.
    """
    if key is None:
        return None
    if isinstance(key, str):
        if not Token.is_unresolved(key) and not _is_key_arn(key):
            raise RuleViolation(
                f"snapshot KMS key {key!r} cannot be granted: give the key's ARN "
                "(arn:<partition>:kms:<region>:<account>:key/<id>)"
            )
        return [key], {}
    use = key_use(key)
    if use.arn is not None:
        return [use.arn], {}
    return [use.every_key], {"ForAnyValue:StringLike": {"kms:ResourceAliases": [str(use.alias_name)]}}


def _is_key_arn(value: str) -> bool:
    return _KEY_ARN.fullmatch(value) is not None
