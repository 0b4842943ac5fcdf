"""The one handler Lambda a stack's CopiedSnapshots share, with its role and least-privilege policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import Acknowledgment, Duration, Lazy, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from copied_snapshot import bundling
from copied_snapshot.policy_resources import (
    MAX_LISTED_KEYS,
    MAX_LISTED_SOURCES,
    KeyResources,
    KeyUse,
    ListProducer,
    key_resources,
    source_resources,
)
from copied_snapshot_runtime.environment import FUNCTION_TIMEOUT_ENV, POLL_RULE_PREFIX_ENV

HANDLER_ID = "CopiedSnapshotHandler"
# Long enough for a first invocation: its calls (which wait out throttling with whatever is left beyond
# the 60 s an invocation keeps for its answer), an in-process window of at most 50 s, and those 60 s. A
# poll's window ends before the rule's next firing, so polls never use more than about two minutes.
FUNCTION_TIMEOUT = Duration.minutes(5)
# Waiting in-process is sleeping: the smallest size costs least per second waited (the runtime with boto3
# and crhelper fits in it: assumed, as Lambda's own default is this size).
MEMORY_MB = 128
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
# What docdb-elastic needs to encrypt a copy with a customer key (GenerateDataKey* as CDK's encrypt grants).
KMS_ACTIONS = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"]
# Dependent actions of RestoreClusterFromSnapshot, UpdateCluster and DeleteCluster (Service Authorization
# Reference, Amazon DocumentDB Elastic Clusters): the service manages the cluster's VPC endpoints with the
# caller's permissions. ec2:CreateTags is not among them (nor in the AmazonDocDBElasticFullAccess managed
# policy), so it is not granted.
CLUSTER_ENDPOINT_ACTIONS = ["ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"]
CLUSTER_DESCRIBE_ACTIONS = [
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
]


class SnapshotCopyHandler(Construct):
    """Per stack: function, log group, role, one policy the copies add to, one permission for polling."""

    @classmethod
    def of(cls, scope: Construct) -> SnapshotCopyHandler:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(HANDLER_ID)
        if existing is not None:
            return cast(SnapshotCopyHandler, existing)
        return cls(stack, HANDLER_ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._sources: list[str] = []
        self._keys: list[KeyUse] = []
        self._acknowledged: set[str] = set()
        self._manages_clusters = False
        # crhelper's polling rules are named under this prefix; IAM and the invoke permission use it.
        self.poll_rule_prefix = f"CopiedSnapshot{stack.node.addr[:8]}-"
        rules_arn = stack.format_arn(
            service="events", resource="rule", resource_name=f"{self.poll_rule_prefix}*"
        )

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the CopiedSnapshot custom resource handler",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            handler="index.handler",
            code=bundling.handler_code(),
            timeout=FUNCTION_TIMEOUT,
            memory_size=MEMORY_MB,
            role=self.role,
            log_group=self.log_group,
            environment={
                POLL_RULE_PREFIX_ENV: self.poll_rule_prefix,
                FUNCTION_TIMEOUT_ENV: str(int(FUNCTION_TIMEOUT.to_seconds())),
            },
            description="Copies DocumentDB Elastic cluster snapshots for CopiedSnapshot resources",
        )
        self.function.add_permission(
            "InvokedByPollingRules",
            principal=iam.ServicePrincipal("events.amazonaws.com"),
            source_arn=rules_arn,
            source_account=stack.account,
        )
        # Polls invoke the function through this; a copy that outlives it hangs its Delete.
        self.permission = self.function.node.find_child("InvokedByPollingRules")

        snapshots_arn = stack.format_arn(
            service="docdb-elastic", resource="cluster-snapshot", resource_name="*"
        )
        clusters_arn = clusters_of(stack)
        # A separate policy (not the role's default one) so that copies can depend on it without a cycle
        # through the function.
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="ManageCopies",
                    actions=[
                        "docdb-elastic:CreateClusterSnapshot",
                        "docdb-elastic:GetClusterSnapshot",
                        "docdb-elastic:DeleteClusterSnapshot",
                        "docdb-elastic:TagResource",
                        "docdb-elastic:UntagResource",
                        "docdb-elastic:ListTagsForResource",
                    ],
                    resources=[snapshots_arn],
                ),
                iam.PolicyStatement(
                    # The Service Authorization Reference (Amazon DocumentDB Elastic Clusters) lists the
                    # cluster as a resource of CreateClusterSnapshot, which CopyClusterSnapshot depends on.
                    sid="CopyNeedsCreateOnClusters",
                    actions=["docdb-elastic:CreateClusterSnapshot"],
                    resources=[clusters_arn],
                ),
                iam.PolicyStatement(
                    # Finds the snapshot holding a name, when a retried Create meets its own earlier copy.
                    sid="FindCopiesByName",
                    actions=["docdb-elastic:ListClusterSnapshots"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PollWithRules",
                    actions=[
                        "events:PutRule",
                        "events:PutTargets",
                        "events:RemoveTargets",
                        # A poll first checks that its rule still targets the function: a repeated delivery
                        # of a finished request exits quietly instead of answering again.
                        "events:ListTargetsByRule",
                        "events:DeleteRule",
                    ],
                    resources=[rules_arn],
                ),
            ],
        )
        self._acknowledge_wildcard(
            snapshots_arn,
            "copies get ARNs the service chooses: scoped to this account and region's snapshots",
        )
        self._acknowledge_wildcard(
            clusters_arn,
            "CopyClusterSnapshot depends on CreateClusterSnapshot, whose resources include the cluster "
            "(Service Authorization Reference); the source's cluster is not known, and restored clusters get "
            "ARNs the service chooses: this account and region's",
        )
        self._acknowledge_wildcard(
            "*", "ListClusterSnapshots has no resource type to scope it to; it only lists names and ARNs"
        )
        self._acknowledge_wildcard(
            rules_arn, "crhelper names polling rules at run time: scoped to this stack's rule-name prefix"
        )
        self._acknowledge_wildcard(
            f"{self.log_group.log_group_arn}:*",
            "log streams are created at run time in the handler's own group",
        )

    def allow_copy_from(self, source_snapshot_arn: str) -> None:
        """Copying, and reading the source first (the handler checks it before it copies).

        One statement lists every source of the stack's copies, so that the policy stays small.
        """
        if not self._sources:
            self.policy.add_statements(
                iam.PolicyStatement(
                    actions=["docdb-elastic:CopyClusterSnapshot", "docdb-elastic:GetClusterSnapshot"],
                    resources=Lazy.list(ListProducer(self._source_resources)),
                )
            )
        self._sources.append(source_snapshot_arn)
        for resource in self._source_resources():
            if resource.endswith("/*") and resource not in self._acknowledged:
                self._acknowledged.add(resource)
                self._acknowledge_wildcard(
                    resource,
                    f"more than {MAX_LISTED_SOURCES} source snapshots: listing each would overflow IAM's "
                    "policy size, so they are named per region and account",
                )

    def _source_resources(self) -> list[str]:
        return source_resources(self._sources, Token.is_unresolved)

    def allow_encrypt_with(self, key: kms.IKey) -> None:
        """The key's use through docdb-elastic only, on the key itself even when `key` is an alias.

        One statement lists every key of the stack's copies (and one every alias imported by name only),
        so that the policy stays small.
        """
        if not self._keys:
            self._acknowledge(
                "Action::kms:GenerateDataKey*",
                "GenerateDataKey and its WithoutPlaintext forms, as aws-cdk-lib's own encrypt grants, on the "
                "copies' and clusters' keys only and only through docdb-elastic",
            )
        use = key_use(key)
        stack = Stack.of(self)
        via_docdb = {"kms:ViaService": f"docdb-elastic.{stack.region}.{stack.url_suffix}"}
        if use.arn is not None and not any(known.arn is not None for known in self._keys):
            self.policy.add_statements(
                iam.PolicyStatement(
                    sid="EncryptCopies",
                    actions=KMS_ACTIONS,
                    resources=Lazy.list(ListProducer(lambda: self._key_resources().keys)),
                    conditions={"StringEquals": via_docdb},
                )
            )
        if use.arn is None and not any(known.arn is None for known in self._keys):
            self.policy.add_statements(
                iam.PolicyStatement(
                    sid="EncryptCopiesWithAliases",
                    actions=KMS_ACTIONS,
                    resources=Lazy.list(ListProducer(lambda: self._key_resources().alias_keys)),
                    conditions={
                        "StringEquals": via_docdb,
                        "ForAnyValue:StringLike": {
                            "kms:ResourceAliases": Lazy.list(
                                ListProducer(lambda: self._key_resources().alias_names)
                            )
                        },
                    },
                )
            )
        self._keys.append(use)
        for resource in [*self._key_resources().keys, *self._key_resources().alias_keys]:
            if resource.endswith("/*") and resource not in self._acknowledged:
                self._acknowledged.add(resource)
                self._acknowledge_wildcard(
                    resource,
                    f"an alias imported by name, or more than {MAX_LISTED_KEYS} keys: the keys of this "
                    "account and region, only through docdb-elastic (and, for aliases, only keys with them)",
                )

    def allow_manage_clusters(self) -> None:
        """Reading, updating, tagging and deleting restored clusters, and reading their network.

        What restores one cluster from one snapshot is in that cluster's own policy (`cluster_policy`): it
        names the snapshot and its key, which may be attributes of a copy in this stack, and copies depend
        on this handler's policy. The EC2 Describe actions are dependent actions of
        RestoreClusterFromSnapshot, UpdateCluster and DeleteCluster (Service Authorization Reference, Amazon
        DocumentDB Elastic Clusters).
        """
        if self._manages_clusters:
            return
        self._manages_clusters = True
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="ManageClusters",
                actions=[
                    "docdb-elastic:GetCluster",
                    "docdb-elastic:UpdateCluster",
                    "docdb-elastic:DeleteCluster",
                    "docdb-elastic:TagResource",
                    "docdb-elastic:UntagResource",
                    "docdb-elastic:ListTagsForResource",
                ],
                resources=[clusters_of(Stack.of(self))],
            ),
            iam.PolicyStatement(
                sid="DescribeClusterNetwork", actions=CLUSTER_DESCRIBE_ACTIONS, resources=["*"]
            ),
            # A Create delivered again finds the cluster its first delivery restored by its name.
            iam.PolicyStatement(
                sid="FindClustersByName", actions=["docdb-elastic:ListClusters"], resources=["*"]
            ),
        )
        self._acknowledge_wildcard(
            "*",
            "ListClusterSnapshots and ListClusters have no resource type to scope them to, and EC2's "
            "Describe actions that clusters depend on are not scoped by resource (Service Authorization "
            "Reference)",
        )

    def cluster_policy(self, scope: Construct, statements: Sequence[iam.PolicyStatement]) -> iam.Policy:
        """A policy of the handler's role for one cluster, made in `scope`: the cluster depends on it."""
        return iam.Policy(scope, "HandlerPolicy", roles=[self.role], statements=list(statements))

    def _key_resources(self) -> KeyResources:
        return key_resources(self._keys)

    def _acknowledge_wildcard(self, resource: str, why: str) -> None:
        acknowledge_wildcard(self.policy, resource, why)

    def _acknowledge(self, subject: str, why: str) -> None:
        acknowledge(self.policy, subject, why)


def clusters_of(stack: Stack) -> str:
    """Every docdb-elastic cluster of the stack's account and region."""
    return stack.format_arn(service="docdb-elastic", resource="cluster", resource_name="*")


def acknowledge_wildcard(policy: iam.Policy, resource: str, why: str) -> None:
    """Acknowledges cdk-nag's IAM5 finding for a scoped wildcard in `policy`, with the reason it is needed."""
    acknowledge(policy, f"Resource::{_nag_text(Stack.of(policy).resolve(resource))}", why)


def acknowledge(policy: iam.Policy, subject: str, why: str) -> None:
    finding = f"AwsSolutions::AwsSolutions-IAM5[{subject}]"
    Validations.of(policy).acknowledge(Acknowledgment(id=finding, reason=why))


def _nag_text(value: Any) -> str:
    """A resolved value written the way cdk-nag names it in a finding: tokens as <Ref> or <Id.Attr>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_nag_text(part) for part in parts)
    raise ValueError(f"cannot name {value!r} the way cdk-nag does")


def key_use(key: kms.IKey) -> KeyUse:
    """How the policy names `key`: a key by its ARN, an alias by the key behind it when that is known.

    An alias ARN in a policy's Resource grants nothing on the key (AWS KMS Developer Guide, "Using aliases
    to control access to KMS keys"); aws-cdk-lib's alias grants go to the target key, or, for an alias
    imported by name only, to the keys carrying it (`kms:ResourceAliases`).
    """
    key_stack = Stack.of(key)
    every_key = key_stack.format_arn(
        service="kms", resource="key", resource_name="*", region=key.env.region, account=key.env.account
    )
    alias_name = getattr(key, "alias_name", None)
    if alias_name is None:
        return KeyUse(arn=key.key_arn, alias_name=None, every_key=every_key)
    try:
        target: kms.IKey = key.alias_target_key  # type: ignore[attr-defined]
    except Exception:  # jsii raises the JavaScript error: an alias imported by name has no target key
        return KeyUse(arn=None, alias_name=str(alias_name), every_key=every_key)
    return KeyUse(arn=target.key_arn, alias_name=None, every_key=every_key)
