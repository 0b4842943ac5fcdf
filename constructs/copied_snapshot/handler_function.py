"""The one handler Lambda a stack's CopiedSnapshots share, with its role and least-privilege policy."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Acknowledgment, Duration, Lazy, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from copied_snapshot import bundling
from copied_snapshot.policy_resources import MAX_LISTED_SOURCES, ListProducer, source_resources
from copied_snapshot_runtime.environment import POLL_RULE_PREFIX_ENV

HANDLER_ID = "CopiedSnapshotHandler"
FUNCTION_TIMEOUT = Duration.minutes(5)
LOG_RETENTION = logs.RetentionDays.ONE_YEAR


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
        self._keys: list[str] = []
        self._acknowledged: set[str] = set()
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
            role=self.role,
            log_group=self.log_group,
            environment={POLL_RULE_PREFIX_ENV: self.poll_rule_prefix},
            description="Copies DocumentDB Elastic cluster snapshots for CopiedSnapshot resources",
        )
        self.function.add_permission(
            "InvokedByPollingRules",
            principal=iam.ServicePrincipal("events.amazonaws.com"),
            source_arn=rules_arn,
            source_account=stack.account,
        )

        snapshots_arn = stack.format_arn(
            service="docdb-elastic", resource="cluster-snapshot", resource_name="*"
        )
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
        """Copying, and reading the source first (its encryption decides whether the copy can work).

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
        """The key's use through docdb-elastic only; one statement lists every key of the stack's copies."""
        if not self._keys:
            stack = Stack.of(self)
            self.policy.add_statements(
                iam.PolicyStatement(
                    actions=["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                    resources=Lazy.list(ListProducer(lambda: list(dict.fromkeys(self._keys)))),
                    conditions={
                        "StringEquals": {"kms:ViaService": f"docdb-elastic.{stack.region}.{stack.url_suffix}"}
                    },
                )
            )
        self._keys.append(key.key_arn)

    def _acknowledge_wildcard(self, resource: str, why: str) -> None:
        """Acknowledges cdk-nag's IAM5 finding for a scoped wildcard, with the reason it is needed."""
        finding = f"AwsSolutions::AwsSolutions-IAM5[Resource::{_nag_text(Stack.of(self).resolve(resource))}]"
        Validations.of(self.policy).acknowledge(Acknowledgment(id=finding, reason=why))


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
