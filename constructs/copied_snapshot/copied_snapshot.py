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
)
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation, Node

from copied_snapshot import validation
from copied_snapshot.handler_function import SnapshotCopyHandler
from copied_snapshot_runtime import properties, rules

RESOURCE_TYPE = "Custom::CopiedSnapshot"
# Tags given as props yield to Tags.of(scope).add(...), whose default priority is 100.
_PROP_TAG_PRIORITY = 50


class ICopiedSnapshot(Protocol):
    """What every copy offers, declared here or imported with `CopiedSnapshot.from_snapshot_arn`."""

    @property
    def node(self) -> Node: ...

    @property
    def snapshot_arn(self) -> str: ...


class _ImportedCopiedSnapshot(Resource):
    def __init__(self, scope: Construct, id: str, snapshot_arn: str) -> None:
        super().__init__(scope, id)
        self.snapshot_arn = snapshot_arn


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
    ) -> None:
        """
        :param source_snapshot_arn: ARN of the cluster snapshot to copy; may be in another region.
        :param target_snapshot_name: name of the copy; default: generated, deterministic and unique.
        :param kms_key: key of the stack's region to encrypt the copy with; default: the source's key.
        :param copy_tags: copy the source snapshot's tags to the copy.
        :param tags: tags of the copy; `Tags.of(scope).add(...)` adds to them.
        :param removal_policy: DESTROY deletes the copy with the stack, RETAIN keeps it.
        :param timeout: how long to wait for the copy to become ACTIVE, 1 to 55 minutes (default 55).
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        validation.check_snapshot_arn(source_snapshot_arn)
        validation.check_removal_policy(removal_policy)
        handler_timeout = validation.timeout_seconds(timeout)
        given_tags = dict(tags or {})
        validation.check_tags(given_tags)
        name_generated = target_snapshot_name is None
        name = target_snapshot_name if target_snapshot_name is not None else self._generated_name()
        validation.check_target_name(name)
        validation.check_unique_name(name, self.node.path, _names_in_app(self))
        if kms_key is not None:
            validation.check_key_region(kms_key, stack)

        self._tags = TagManager(TagType.KEY_VALUE, RESOURCE_TYPE)
        for key, value in given_tags.items():
            self._tags.set_tag(key, value, _PROP_TAG_PRIORITY)
        self.node.add_validation(_TagValidation(self._tags))

        handler = SnapshotCopyHandler.of(self)
        handler.allow_copy_from(source_snapshot_arn)
        if kms_key is not None:
            handler.allow_encrypt_with(kms_key)

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
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=resource_properties,
            removal_policy=removal_policy,
            service_timeout=Duration.seconds(handler_timeout + properties.SERVICE_TIMEOUT_MARGIN_SECONDS),
        )
        self._resource.node.add_dependency(handler.policy)

        self.target_snapshot_name = name
        self.snapshot_arn = self._resource.get_att_string("SnapshotArn")
        self.snapshot_name = self._resource.get_att_string("SnapshotName")
        self.snapshot_status = self._resource.get_att_string("Status")
        self.snapshot_kms_key_id = self._resource.get_att_string("KmsKeyId")
        self.snapshot_cluster_arn = self._resource.get_att_string("ClusterArn")
        self.snapshot_creation_time = self._resource.get_att_string("SnapshotCreationTime")

    @property
    def tags(self) -> TagManager:
        """The copy's tags (ITaggable): `Tags.of(scope).add(...)` reaches the copy through this."""
        return self._tags

    @staticmethod
    def from_snapshot_arn(scope: Construct, id: str, snapshot_arn: str) -> ICopiedSnapshot:
        """References an existing copy, in this or another stack, by its ARN."""
        validation.check_snapshot_arn(snapshot_arn, what="snapshot ARN")
        return _ImportedCopiedSnapshot(scope, id, snapshot_arn)

    def _generated_name(self) -> str:
        # Two characters spare, so that a letter put first never truncates the uniqueness hash at the end.
        unique = Names.unique_resource_name(self, max_length=rules.NAME_MAX_LENGTH - 2)
        return rules.valid_name_from(unique)


def _names_in_app(scope: Construct) -> dict[str, str]:
    """Lowercase target names of the copies declared so far anywhere in the app, by construct path."""
    return {
        copy.target_snapshot_name.lower(): copy.node.path
        for copy in scope.node.root.node.find_all()
        if isinstance(copy, CopiedSnapshot) and copy is not scope and hasattr(copy, "target_snapshot_name")
    }
