"""The CopiedSnapshot construct: a DocumentDB Elastic cluster snapshot copy as a CloudFormation resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

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
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation, Node

from copied_snapshot import grants, validation
from copied_snapshot.handler_function import SnapshotCopyHandler
from copied_snapshot_runtime import polling, properties, rules

RESOURCE_TYPE = "Custom::CopiedSnapshot"
# Tags given as props yield to Tags.of(scope).add(...), whose default priority is 100.
_PROP_TAG_PRIORITY = 50


class ICopiedSnapshot(Protocol):
    """What a consumer of a copy needs, declared here or imported with `CopiedSnapshot.from_snapshot_arn`."""

    @property
    def node(self) -> Node: ...

    @property
    def snapshot_arn(self) -> str:
        """The copy's ARN."""
        ...

    @property
    def snapshot_name(self) -> str | None:
        """The copy's name; None for an import that was not told it."""
        ...

    @property
    def snapshot_kms_key_id(self) -> str | None:
        """The KMS key the copy is encrypted with; None for an import that was not told it."""
        ...

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grants `actions` (docdb-elastic:...) on the copy."""
        ...

    def grant_restore(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grants what restoring a cluster from the copy needs, on the copy and its key when known."""
        ...


class _ImportedCopiedSnapshot(Resource):
    def __init__(
        self,
        scope: Construct,
        id: str,
        snapshot_arn: str,
        snapshot_name: str | None,
        snapshot_kms_key_id: str | None,
    ) -> None:
        super().__init__(scope, id, environment_from_arn=snapshot_arn)
        self._arn, self._name, self._key = snapshot_arn, snapshot_name, snapshot_kms_key_id

    @property
    def snapshot_arn(self) -> str:
        """The copy's ARN."""
        return self._arn

    @property
    def snapshot_name(self) -> str | None:
        """The copy's name, when the import was told it (an ARN's resource id is not the name)."""
        return self._name

    @property
    def snapshot_kms_key_id(self) -> str | None:
        """The copy's KMS key, when the import was told it."""
        return self._key

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grants `actions` (docdb-elastic:...) on the copy."""
        return grants.grant_on_snapshot(grantee, self._arn, actions)

    def grant_restore(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grants RestoreClusterFromSnapshot on the copy (and what it depends on), and the use of
        `snapshot_kms_key_id` (a key ARN) through docdb-elastic when the import was told it."""
        return grants.grant_restore(
            self, grantee, self._arn, account=self.env.account, region=self.env.region, key=self._key
        )


@jsii.implements(IValidation)
class _TagValidation:
    """Tags.of(scope) adds tags after construction; they are checked when the app synthesizes."""

    def __init__(self, tags: TagManager) -> None:
        self._tags = tags

    def validate(self) -> list[str]:
        return rules.tag_problems(validation.resolved_tags(self._tags.tag_values()))


@jsii.implements(ITaggable)
class CopiedSnapshot(Resource):
    """A copy of a DocumentDB Elastic cluster snapshot, ACTIVE once the stack has deployed.

    The copy is made by a custom resource whose Lambda handler (one per stack) calls CopyClusterSnapshot,
    waits for the copy to become ACTIVE, applies tag changes in place and deletes the copy on teardown
    (unless `removal_policy` is RETAIN).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_snapshot_arn: str,
        target_snapshot_name: str | None = None,
        kms_key: kms.IKey | None = None,
        copy_tags: bool = False,
        tags: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        timeout: Duration | None = None,
        polling_interval: Duration | None = None,
    ) -> None:
        """
        :param source_snapshot_arn: ARN of the cluster snapshot to copy (manual or automated), of the stack's
            region and account: elastic cluster snapshots are copied only there.
        :param target_snapshot_name: name of the copy; default: generated, deterministic and unique.
        :param kms_key: key (or alias) of the stack's region to re-encrypt the copy with; default: the copy
            keeps the source's key (elastic snapshots are always encrypted).
        :param copy_tags: copy the source snapshot's tags to the copy.
        :param tags: tags of the copy; `Tags.of(scope).add(...)` adds to them.
        :param removal_policy: DESTROY deletes the copy with the stack, RETAIN keeps it.
        :param timeout: how long to wait for the copy to become ACTIVE, 1 to 55 minutes (default 55); a
            token must be in seconds (`Duration.seconds(token)`) and is checked by the handler.
        :param polling_interval: how often the handler asks whether the copy is ACTIVE (or gone) while it
            waits, 5 to 60 seconds in whole seconds (default 5): the stack learns of the copy's end at most
            this long after it, for up to 60/interval GetClusterSnapshot calls a minute. A token must be in
            seconds and is checked by the handler.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        validation.check_snapshot_arn(source_snapshot_arn)
        validation.check_source_in_stack_environment(source_snapshot_arn, stack)
        validation.check_removal_policy(removal_policy)
        validation.check_copy_tags(copy_tags)
        handler_timeout = validation.timeout_seconds(timeout)
        interval = validation.polling_interval_seconds(polling_interval)
        given_tags = dict(tags or {})
        validation.check_tags(given_tags)
        name_generated = target_snapshot_name is None
        name = target_snapshot_name if target_snapshot_name is not None else self._generated_name()
        validation.check_target_name(name)
        taken = _names_taken(stack)
        validation.check_unique_name(name, self.node.path, taken)
        if not Token.is_unresolved(name):
            taken[name.lower()] = self.node.path
        if kms_key is not None:
            validation.check_key_region(kms_key, stack)
        self._kms_key = kms_key

        self._tags = TagManager(TagType.KEY_VALUE, RESOURCE_TYPE)
        for key, value in given_tags.items():
            self._tags.set_tag(key, value, _PROP_TAG_PRIORITY)
        self.node.add_validation(_TagValidation(self._tags))

        handler = SnapshotCopyHandler.of(self)
        handler.allow_copy_from(source_snapshot_arn)
        if kms_key is not None:
            handler.allow_encrypt_with(kms_key)

        service_timeout = (
            properties.MAX_TIMEOUT_SECONDS if Token.is_unresolved(handler_timeout) else handler_timeout
        ) + properties.SERVICE_TIMEOUT_MARGIN_SECONDS
        resource_properties: dict[str, Any] = {
            properties.SOURCE_SNAPSHOT_ARN: source_snapshot_arn,
            properties.TARGET_SNAPSHOT_NAME: name,
            properties.NAME_GENERATED: name_generated,
            properties.COPY_TAGS: copy_tags,
            properties.TIMEOUT_SECONDS: handler_timeout,
            # Rendered at synth time, after Tags.of(scope) aspects have run.
            properties.TAGS: self._tags.rendered_tags,
        }
        if kms_key is not None:
            resource_properties[properties.KMS_KEY_ID] = kms_key.key_arn
        if interval is not None:
            resource_properties[polling.POLLING_INTERVAL] = interval
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=resource_properties,
            removal_policy=removal_policy,
            service_timeout=Duration.seconds(service_timeout),
        )
        # Everything the handler needs while it runs (function, role, policies, log group, the permission
        # polls invoke it through): CloudFormation deletes what nothing depends on in parallel.
        self._resource.node.add_dependency(handler)

        self.target_snapshot_name = name
        """The copy's name as declared (a token when given as one)."""

    @property
    def snapshot_arn(self) -> str:
        """The copy's ARN (chosen by the service, known once the copy exists)."""
        return self._resource.get_att_string("SnapshotArn")

    @property
    def snapshot_name(self) -> str:
        """The copy's name, as the service reports it."""
        return self._resource.get_att_string("SnapshotName")

    @property
    def snapshot_status(self) -> str:
        """The copy's status when the stack last deployed it (ACTIVE)."""
        return self._resource.get_att_string("Status")

    @property
    def snapshot_kms_key_id(self) -> str:
        """The KMS key the copy is encrypted with: `kms_key`, or the source's key."""
        return self._resource.get_att_string("KmsKeyId")

    @property
    def snapshot_cluster_arn(self) -> str:
        """The ARN of the cluster the source snapshot was taken of."""
        return self._resource.get_att_string("ClusterArn")

    @property
    def snapshot_creation_time(self) -> str:
        """When the copy was created, as the service reports it."""
        return self._resource.get_att_string("SnapshotCreationTime")

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grants `actions` (docdb-elastic:...) on the copy, like aws-cdk-lib's grant methods."""
        return grants.grant_on_snapshot(grantee, self.snapshot_arn, actions)

    def grant_restore(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grants RestoreClusterFromSnapshot on the copy (and what it depends on), and the use of its key
        through docdb-elastic: `kms_key` when given, else the key the copy reports (the source's)."""
        stack = Stack.of(self)
        return grants.grant_restore(
            self,
            grantee,
            self.snapshot_arn,
            account=stack.account,
            region=stack.region,
            key=restore_key(self),
        )

    @property
    def kms_key(self) -> kms.IKey | None:
        """The key given to re-encrypt the copy with, if any."""
        return self._kms_key

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Sets what happens to the copy when it leaves the stack; the prop's rule applies."""
        validation.check_removal_policy(policy)
        self._resource.apply_removal_policy(policy)

    @property
    def tags(self) -> TagManager:
        """The copy's tags (ITaggable): `Tags.of(scope).add(...)` reaches the copy through this."""
        return self._tags

    @staticmethod
    def from_snapshot_arn(
        scope: Construct,
        id: str,
        snapshot_arn: str,
        *,
        snapshot_name: str | None = None,
        snapshot_kms_key_id: str | None = None,
    ) -> ICopiedSnapshot:
        """References an existing copy by its ARN; its account and region are read from the ARN.

        The ARN's resource id is not the snapshot's name: give `snapshot_name` and `snapshot_kms_key_id`
        when the consumer needs them, else they are None.
        """
        validation.check_snapshot_arn(snapshot_arn, what="snapshot ARN")
        return _ImportedCopiedSnapshot(scope, id, snapshot_arn, snapshot_name, snapshot_kms_key_id)

    def _generated_name(self) -> str:
        # Two characters spare, so that a letter put first never truncates the uniqueness hash at the end.
        unique = Names.unique_resource_name(self, max_length=rules.NAME_MAX_LENGTH - 2)
        return rules.valid_name_from(unique)


def restore_key(snapshot: ICopiedSnapshot) -> kms.IKey | str | None:
    """The key a restore from `snapshot` decrypts with: a copy's `kms_key` when given (an alias is granted
    on its key), else the key the snapshot reports or an import was told; None when unknown."""
    if isinstance(snapshot, CopiedSnapshot) and snapshot.kms_key is not None:
        return snapshot.kms_key
    return snapshot.snapshot_kms_key_id


_NAMES_ATTRIBUTE = "_copied_snapshot_names"


def _names_taken(stack: Stack) -> dict[str, str]:
    """The lowercase target names already declared where `stack` makes its copies, by construct path.

    Names are unique per account and region (ignoring case), so the app's root keeps one registry per
    concrete account and region; an environment-agnostic stack compares only within itself. Each copy
    looks up one registry, so declaring n copies takes time linear in n.
    """
    if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
        place: tuple[str, ...] = ("stack", stack.node.path)
    else:
        place = ("environment", stack.account, stack.region)
    root = stack.node.root
    registries: dict[tuple[str, ...], dict[str, str]] | None = getattr(root, _NAMES_ATTRIBUTE, None)
    if registries is None:
        registries = {}
        setattr(root, _NAMES_ATTRIBUTE, registries)
    return registries.setdefault(place, {})
