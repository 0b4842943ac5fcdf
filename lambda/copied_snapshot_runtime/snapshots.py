"""The thin layer that calls the docdb-elastic API. No decisions here: see `decisions`."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from copied_snapshot_runtime.properties import CopyProperties

if TYPE_CHECKING:
    from mypy_boto3_docdb_elastic import DocDBElasticClient

# botocore's standard retry mode retries throttling and 5xx answers with jittered backoff.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def docdb_elastic_client(region: str | None = None) -> DocDBElasticClient:
    """A client honouring the standard AWS configuration (credentials, AWS_ENDPOINT_URL_DOCDB_ELASTIC)."""
    return boto3.client("docdb-elastic", region_name=region, config=_CLIENT_CONFIG)


class Deletion(enum.Enum):
    STARTED = "started"
    GONE = "gone"  # nothing (left) to delete
    BUSY = "busy"  # the snapshot is still copying or otherwise in use: try again later


class SnapshotService:
    def __init__(self, client: DocDBElasticClient) -> None:
        self._client = client

    def copy(self, props: CopyProperties) -> Mapping[str, Any]:
        arguments: dict[str, Any] = {
            "snapshotArn": props.source_snapshot_arn,
            "targetSnapshotName": props.target_snapshot_name,
            "copyTags": props.copy_tags,
        }
        if props.kms_key_id:
            arguments["kmsKeyId"] = props.kms_key_id
        if props.tags:
            arguments["tags"] = dict(props.tags)
        return self._client.copy_cluster_snapshot(**arguments)["snapshot"]

    def get(self, snapshot_arn: str) -> Mapping[str, Any] | None:
        """The snapshot, or None when it does not exist (any more)."""
        try:
            return self._client.get_cluster_snapshot(snapshotArn=snapshot_arn)["snapshot"]
        except self._client.exceptions.ResourceNotFoundException:
            return None

    def delete(self, snapshot_arn: str) -> Deletion:
        try:
            self._client.delete_cluster_snapshot(snapshotArn=snapshot_arn)
        except self._client.exceptions.ResourceNotFoundException:
            return Deletion.GONE
        except self._client.exceptions.ConflictException:
            return Deletion.BUSY
        return Deletion.STARTED

    def tag(self, snapshot_arn: str, tags: Mapping[str, str]) -> None:
        if tags:
            self._client.tag_resource(resourceArn=snapshot_arn, tags=dict(tags))

    def untag(self, snapshot_arn: str, keys: Sequence[str]) -> None:
        if keys:
            self._client.untag_resource(resourceArn=snapshot_arn, tagKeys=list(keys))
