"""The thin layer that calls the docdb-elastic API, with the one retry policy for its transient errors.

No decisions here beyond which errors are worth asking again about: see `decisions`.
"""

from __future__ import annotations

import collections
import enum
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from copied_snapshot_runtime import decisions

if TYPE_CHECKING:
    from mypy_boto3_docdb_elastic import DocDBElasticClient

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Every request sent, by operation (retries included): each invocation logs how many it made.
calls_made: collections.Counter[str] = collections.Counter()

# botocore's own retries are off: `SnapshotService._call` is the one policy (it honours Retry-After).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})


def docdb_elastic_client(region: str | None = None) -> DocDBElasticClient:
    """A client honouring the standard AWS configuration (credentials, AWS_ENDPOINT_URL_DOCDB_ELASTIC)."""
    return boto3.client("docdb-elastic", region_name=region, config=_CLIENT_CONFIG)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def retry_after_seconds(error: ClientError) -> float | None:
    """The wait a ThrottlingException asks for (its Retry-After header), if any."""
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after") or error.response.get("retryAfterSeconds")
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


class Deletion(enum.Enum):
    STARTED = "started"
    GONE = "gone"  # nothing (left) to delete
    BUSY = "busy"  # the snapshot is still copying or otherwise in use: try again later


class SnapshotService:
    def __init__(
        self,
        client: DocDBElasticClient,
        sleep: Callable[[float], None] = time.sleep,
        access_denied_budget: float = 0.0,
        transient_budget: float = 0.0,
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._access_denied_budget = access_denied_budget
        self._access_denied_waited = 0.0  # over all calls made through this object
        self._transient_budget = transient_budget
        self._transient_waited = 0.0  # ditto, on throttling and other passing errors

    def with_budgets(self, access_denied: float, transient: float = 0.0) -> SnapshotService:
        """The same API, whose calls together wait up to `access_denied` seconds asking again after
        AccessDenied, and up to `transient` seconds (beyond the usual attempts) on a busy service."""
        return SnapshotService(
            self._client, self._sleep, access_denied_budget=access_denied, transient_budget=transient
        )

    def with_access_denied_budget(self, seconds: float) -> SnapshotService:
        """The same API, whose calls together wait up to `seconds` asking again after AccessDenied."""
        return self.with_budgets(seconds)

    def _call(self, operation: Callable[..., T], **arguments: Any) -> T:
        """Calls the API, asking again with backoff where `decisions.retry_wait` says so."""
        for attempt in itertools.count(1):
            calls_made[getattr(operation, "__name__", "unknown")] += 1
            try:
                return operation(**arguments)
            except ClientError as error:
                code = error_code(error)
                wait = decisions.retry_wait(
                    code,
                    attempt,
                    retry_after_seconds(error),
                    self._access_denied_waited,
                    self._access_denied_budget,
                    transient_waited=self._transient_waited,
                    transient_budget=self._transient_budget,
                )
                if wait is None:
                    raise
                if code == decisions.ACCESS_DENIED:
                    self._access_denied_waited += wait
                else:
                    self._transient_waited += wait
            except BotocoreConnectionError as error:
                code = type(error).__name__
                wait = decisions.retry_wait(
                    decisions.CONNECTION_LOST,
                    attempt,
                    None,
                    0.0,
                    0.0,
                    transient_waited=self._transient_waited,
                    transient_budget=self._transient_budget,
                )
                if wait is None:
                    raise
                self._transient_waited += wait
            logger.warning({"message": "retrying", "Error": code, "Attempt": attempt, "WaitSeconds": wait})
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def copy(
        self,
        source_snapshot_arn: str,
        target_snapshot_name: str,
        kms_key_id: str | None,
        copy_tags: bool,
        tags: Mapping[str, str],
    ) -> Mapping[str, Any]:
        arguments: dict[str, Any] = {
            "snapshotArn": source_snapshot_arn,
            "targetSnapshotName": target_snapshot_name,
            "copyTags": copy_tags,
        }
        if kms_key_id:
            arguments["kmsKeyId"] = kms_key_id
        if tags:
            arguments["tags"] = dict(tags)
        return self._call(self._client.copy_cluster_snapshot, **arguments)["snapshot"]

    def get(self, snapshot_arn: str) -> Mapping[str, Any] | None:
        """The snapshot, or None when it does not exist (any more)."""
        try:
            return self._call(self._client.get_cluster_snapshot, snapshotArn=snapshot_arn)["snapshot"]
        except self._client.exceptions.ResourceNotFoundException:
            return None

    def find_by_name(self, name: str) -> Mapping[str, Any] | None:
        """The region's snapshot of this name (names are not case sensitive), or None."""
        found = self.find_named(lambda candidate: candidate.lower() == name.lower())
        return found[0] if found else None

    def find_named(self, matches: Callable[[str], bool]) -> list[Mapping[str, Any]]:
        """The region's snapshots whose names `matches`."""
        arguments: dict[str, Any] = {}
        found: list[Mapping[str, Any]] = []
        while True:
            page = self._call(self._client.list_cluster_snapshots, **arguments)
            found += [
                item for item in page.get("snapshots", []) if matches(str(item.get("snapshotName", "")))
            ]
            if not page.get("nextToken"):
                return found
            arguments["nextToken"] = page["nextToken"]

    def tags_of(self, snapshot_arn: str) -> dict[str, str] | None:
        """The snapshot's tags, or None when it does not exist (any more)."""
        try:
            answer = self._call(self._client.list_tags_for_resource, resourceArn=snapshot_arn)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        return dict(answer.get("tags", {}))

    def delete(self, snapshot_arn: str) -> Deletion:
        try:
            self._call(self._client.delete_cluster_snapshot, snapshotArn=snapshot_arn)
        except self._client.exceptions.ResourceNotFoundException:
            return Deletion.GONE
        except self._client.exceptions.ConflictException:
            return Deletion.BUSY
        return Deletion.STARTED

    def tag(self, snapshot_arn: str, tags: Mapping[str, str]) -> None:
        if tags:
            self._call(self._client.tag_resource, resourceArn=snapshot_arn, tags=dict(tags))

    def untag(self, snapshot_arn: str, keys: Sequence[str]) -> None:
        if keys:
            self._call(self._client.untag_resource, resourceArn=snapshot_arn, tagKeys=list(keys))
