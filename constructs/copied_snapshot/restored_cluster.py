"""The RestoredCluster construct: a DocumentDB Elastic cluster restored from a snapshot copy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import (
    CustomResource,
    Duration,
    ITaggable,
    Names,
    RemovalPolicy,
    Resource,
    Stack,
    TagManager,
    TagType,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from copied_snapshot import grants, validation
from copied_snapshot.copied_snapshot import ICopiedSnapshot, _TagValidation, restore_key
from copied_snapshot.handler_function import (
    CLUSTER_ENDPOINT_ACTIONS,
    SnapshotCopyHandler,
    acknowledge,
    acknowledge_wildcard,
    clusters_of,
)
from copied_snapshot_runtime import cluster_properties, cluster_rules, properties, rules
from copied_snapshot_runtime.cluster_properties import RESOURCE_TYPE
from copied_snapshot_runtime.rules import RuleViolation

# Tags given as props yield to Tags.of(scope).add(...), whose default priority is 100.
_PROP_TAG_PRIORITY = 50


@jsii.implements(ITaggable, ec2.IConnectable)
class RestoredCluster(Resource):
    """An elastic cluster restored from a snapshot copy, ACTIVE once the stack has deployed.

    No CloudFormation resource restores an elastic cluster from a snapshot, so a custom resource does,
    served by the stack's one handler function (the copies' own): it calls RestoreClusterFromSnapshot, waits
    for the cluster to become ACTIVE, and deletes the cluster on teardown unless it is retained.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        snapshot: ICopiedSnapshot,
        cluster_name: str | None = None,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        shard_capacity: int | None = None,
        shard_instance_count: int | None = None,
        kms_key: kms.IKey | None = None,
        tags: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        timeout: Duration | None = None,
    ) -> None:
        """
        :param snapshot: the copy to restore from (a CopiedSnapshot or `CopiedSnapshot.from_snapshot_arn`),
            of the stack's region and account.
        :param cluster_name: the cluster's name; default: generated, deterministic and valid.
        :param vpc: the VPC the cluster is placed in.
        :param vpc_subnets: which of its subnets (at least two Availability Zones); default: the VPC's
            default selection (its private subnets when it has any).
        :param security_groups: the cluster's security groups; default: one made for it in `vpc`.
        :param shard_capacity: vCPUs per shard (2, 4, 8, 16, 32 or 64); default: the service's choice.
        :param shard_instance_count: instances per shard, 1 (a writer only) to 16; default: the service's.
        :param kms_key: key of the stack's region to encrypt the cluster with; default: the service's.
        :param tags: the cluster's tags; `Tags.of(scope).add(...)` adds to them.
        :param removal_policy: DESTROY deletes the cluster with the stack, RETAIN keeps it.
        :param timeout: how long to wait for the cluster to become ACTIVE, 1 to 55 minutes (default 55); a
            token must be in seconds (`Duration.seconds(token)`) and is checked by the handler.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        snapshot_arn = snapshot.snapshot_arn
        validation.check_snapshot_arn(snapshot_arn, what="snapshot ARN")
        check_snapshot_in_stack_environment(snapshot_arn, stack)
        check_removal_policy(removal_policy)
        handler_timeout = validation.timeout_seconds(timeout)
        given_tags = dict(tags or {})
        validation.check_tags(given_tags)
        check_shards(shard_capacity, shard_instance_count)
        name_generated = cluster_name is None
        name = cluster_name if cluster_name is not None else self._generated_name()
        if not Token.is_unresolved(name):
            cluster_rules.check_cluster_name(name)
        if kms_key is not None:
            validation.check_key_region(kms_key, stack, what="cluster")

        selected = select_subnets(vpc, vpc_subnets)
        check_subnets(selected)
        if security_groups is None:
            security_groups = [
                ec2.SecurityGroup(
                    self,
                    "SecurityGroup",
                    vpc=vpc,
                    description=f"Restored DocumentDB Elastic cluster {self.node.path}",
                    allow_all_outbound=False,
                )
            ]
        elif not security_groups:
            raise RuleViolation("security_groups is empty: give at least one, or leave it out to get one")
        self._security_groups = list(security_groups)
        self.connections = ec2.Connections(
            security_groups=self._security_groups,
            default_port=ec2.Port.tcp(cluster_properties.DEFAULT_PORT),
        )
        """The cluster's security groups and its port (IConnectable)."""

        self._tags = TagManager(TagType.KEY_VALUE, RESOURCE_TYPE)
        for key, value in given_tags.items():
            self._tags.set_tag(key, value, _PROP_TAG_PRIORITY)
        self.node.add_validation(_TagValidation(self._tags))

        handler = SnapshotCopyHandler.of(self)
        handler.allow_manage_clusters()
        if kms_key is not None:
            handler.allow_encrypt_with(kms_key)
        self._handler_policy = self._restore_policy(handler, snapshot, vpc, selected)

        service_timeout = (
            properties.MAX_TIMEOUT_SECONDS if Token.is_unresolved(handler_timeout) else handler_timeout
        ) + properties.SERVICE_TIMEOUT_MARGIN_SECONDS
        resource_properties: dict[str, Any] = {
            cluster_properties.SNAPSHOT_ARN: snapshot_arn,
            cluster_properties.CLUSTER_NAME: name,
            cluster_properties.NAME_GENERATED: name_generated,
            cluster_properties.SUBNET_IDS: selected.subnet_ids,
            cluster_properties.VPC_SECURITY_GROUP_IDS: [
                group.security_group_id for group in self._security_groups
            ],
            cluster_properties.TIMEOUT_SECONDS: handler_timeout,
            # Rendered at synth time, after Tags.of(scope) aspects have run.
            cluster_properties.TAGS: self._tags.rendered_tags,
        }
        if shard_capacity is not None:
            resource_properties[cluster_properties.SHARD_CAPACITY] = shard_capacity
        if shard_instance_count is not None:
            resource_properties[cluster_properties.SHARD_INSTANCE_COUNT] = shard_instance_count
        if kms_key is not None:
            resource_properties[cluster_properties.KMS_KEY_ID] = kms_key.key_arn
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=resource_properties,
            removal_policy=removal_policy,
            service_timeout=Duration.seconds(service_timeout),
        )
        # Everything the handler needs while it runs: CloudFormation deletes what nothing depends on in
        # parallel, and a Delete that outlives the handler's permission or policy hangs.
        self._resource.node.add_dependency(handler, self._handler_policy)

        self.cluster_name = name
        """The cluster's name as declared (a token when given as one)."""

    @property
    def cluster_arn(self) -> str:
        """The cluster's ARN (chosen by the service, known once the cluster exists)."""
        return self._resource.get_att_string(cluster_properties.CLUSTER_ARN_ATTRIBUTE)

    @property
    def cluster_endpoint(self) -> str:
        """The host name clients connect to."""
        return self._resource.get_att_string(cluster_properties.CLUSTER_ENDPOINT_ATTRIBUTE)

    @property
    def cluster_port(self) -> str:
        """The port clients connect to, as a string."""
        return self._resource.get_att_string(cluster_properties.PORT_ATTRIBUTE)

    @property
    def tags(self) -> TagManager:
        """The cluster's tags (ITaggable): `Tags.of(scope).add(...)` reaches the cluster through this."""
        return self._tags

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Sets what happens to the cluster when it leaves the stack; the prop's rule applies."""
        check_removal_policy(policy)
        self._resource.apply_removal_policy(policy)

    def _restore_policy(
        self,
        handler: SnapshotCopyHandler,
        snapshot: ICopiedSnapshot,
        vpc: ec2.IVpc,
        selected: ec2.SelectedSubnets,
    ) -> iam.Policy:
        """This cluster's own policy on the handler's role: the restore from its snapshot (which may be a copy
        of this stack: the shared policy cannot name it, since copies depend on that policy), and its VPC
        endpoints in its own VPC, subnets and security groups."""
        stack = Stack.of(self)
        permissions = grants.restore_permissions(
            self, snapshot.snapshot_arn, account=stack.account, region=stack.region, key=restore_key(snapshot)
        )
        endpoints = stack.format_arn(service="ec2", resource="vpc-endpoint", resource_name="*")
        endpoint_statement = iam.PolicyStatement(
            actions=CLUSTER_ENDPOINT_ACTIONS,
            resources=[endpoints, *network_arns(stack, vpc, selected, self._security_groups)],
        )
        policy = handler.cluster_policy(self, [p.statement() for p in permissions] + [endpoint_statement])
        acknowledge_wildcard(
            policy,
            clusters_of(stack),
            "RestoreClusterFromSnapshot requires the cluster as a resource, and TagResource tags it; its ARN "
            "is chosen by the service: this account and region's clusters",
        )
        acknowledge_wildcard(
            policy, "*", "CreateCluster, which restoring authorizes, has no resource type to scope it to"
        )
        acknowledge_wildcard(
            policy,
            endpoints,
            "the service creates the cluster's VPC endpoints and chooses their ids: this account and "
            "region's endpoints, only in the cluster's own VPC, subnets and security groups",
        )
        for permission in permissions:
            if "kms:GenerateDataKey*" in permission.actions:
                acknowledge(
                    policy,
                    "Action::kms:GenerateDataKey*",
                    "GenerateDataKey and its WithoutPlaintext forms, as aws-cdk-lib's own encrypt grants, on "
                    "the snapshot's key only and only through docdb-elastic",
                )
                if "ForAnyValue:StringLike" in permission.conditions:  # an alias imported by name
                    for resource in permission.resources:
                        acknowledge_wildcard(
                            policy,
                            resource,
                            "an alias imported by name: only the keys that carry it, through docdb-elastic",
                        )
        return policy

    def _generated_name(self) -> str:
        # Two characters spare, so that a letter put first never truncates the uniqueness hash at the end.
        unique = Names.unique_resource_name(self, max_length=rules.NAME_MAX_LENGTH - 2)
        return rules.valid_name_from(unique)


def check_removal_policy(policy: RemovalPolicy) -> None:
    if policy not in validation.SUPPORTED_REMOVAL_POLICIES:
        raise RuleViolation(
            f"removal policy {policy.name} is not supported for a restored cluster: use DESTROY (delete the "
            "cluster with the stack) or RETAIN (keep it); a final snapshot is not taken"
        )


def check_shards(shard_capacity: int | None, shard_instance_count: int | None) -> None:
    """The values known at synth; tokens are checked by the handler."""
    problems: list[str] = []
    if shard_capacity is not None and not Token.is_unresolved(shard_capacity):
        problems += cluster_rules.shard_capacity_problems(shard_capacity)
    if shard_instance_count is not None and not Token.is_unresolved(shard_instance_count):
        problems += cluster_rules.shard_instance_count_problems(shard_instance_count)
    cluster_rules.check(problems, "shards")


def select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """The VPC's subnets that `selection` picks (jsii takes the selection's fields as keywords)."""
    if selection is None:
        return vpc.select_subnets()
    return vpc.select_subnets(
        availability_zones=selection.availability_zones,
        one_per_az=selection.one_per_az,
        subnet_filters=selection.subnet_filters,
        subnet_group_name=selection.subnet_group_name,
        subnets=selection.subnets,
        subnet_type=selection.subnet_type,
    )


def check_subnets(selected: ec2.SelectedSubnets) -> None:
    """At least one subnet, and two Availability Zones when the zones are known at synth."""
    zones = list(selected.availability_zones)
    known_zones = None if any(Token.is_unresolved(zone) for zone in zones) else zones
    cluster_rules.check(cluster_rules.subnet_problems(list(selected.subnet_ids), known_zones), "vpc_subnets")


def check_snapshot_in_stack_environment(snapshot_arn: str, stack: Stack) -> None:
    """A cluster is restored in the snapshot's own region and account (assumed: the API takes the snapshot's
    ARN, and elastic snapshots cannot be shared); tokens and environment-agnostic stacks are left alone."""
    if Token.is_unresolved(snapshot_arn):
        return
    snapshot = rules.check_snapshot_arn(snapshot_arn, "snapshot ARN")
    differences = rules.place_differences(
        snapshot, region=validation.known(stack.region), account=validation.known(stack.account)
    )
    if differences:
        raise RuleViolation(
            f"snapshot {snapshot_arn!r} is in {' and '.join(differences)}: a cluster is restored from a "
            "snapshot of its own region and account"
        )


def network_arns(
    stack: Stack, vpc: ec2.IVpc, selected: ec2.SelectedSubnets, groups: Sequence[ec2.ISecurityGroup]
) -> list[str]:
    """The VPC, subnets and security groups the cluster's VPC endpoints are made in, as EC2 ARNs."""
    return [
        stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id),
        *(stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in selected.subnet_ids),
        *(
            stack.format_arn(service="ec2", resource="security-group", resource_name=group.security_group_id)
            for group in groups
        ),
    ]
