"""A Custom::RestoredCluster's life cycle: restore (or adopt), wait for ACTIVE, update in place or replace,
delete and wait until gone. Only clusters carrying this resource's ownership tag are ever changed."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from copied_snapshot_runtime import cluster_decisions, decisions, invocation, properties, rules
from copied_snapshot_runtime.cluster_properties import ClusterProperties, parse_cluster_properties
from copied_snapshot_runtime.cluster_service import ClusterService
from copied_snapshot_runtime.outcomes import Done, Failed, Outcome, Waiting
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.snapshots import Deletion, docdb_elastic_client, error_code

logger = logging.getLogger(__name__)


@functools.cache
def service() -> ClusterService:
    """The API in the Lambda's own region and account, where the snapshot and the cluster are."""
    return ClusterService(docdb_elastic_client())


def _create_service(request: Request, context: Any) -> ClusterService:
    """As for a copy: AccessDenied is asked again while IAM may still be propagating the policy."""
    remaining = context.get_remaining_time_in_millis() / 1000
    first = invocation.first_invocation(request)
    return service().with_access_denied_budget(
        decisions.access_denied_budget(first, invocation.clock(), remaining)
    )


def _parse(raw: object) -> ClusterProperties:
    if not isinstance(raw, Mapping):
        raise properties.InvalidProperties("the resource properties are missing")
    return parse_cluster_properties(raw)


def _old_properties(raw: object) -> ClusterProperties:
    """The old properties; a rollback Update brings back as "old" values that were refused, read unchecked."""
    try:
        return _parse(raw)
    except ValueError:
        values = raw if isinstance(raw, Mapping) else {}
        return ClusterProperties(
            snapshot_arn=str(values.get("SnapshotArn", "")), cluster_name=str(values.get("ClusterName", ""))
        )


def _adopt(name: str, owner: str, conflict: ClientError, api: ClusterService) -> Mapping[str, Any]:
    """The cluster holding `name`, if an earlier delivery of this same request restored it."""
    try:
        existing = api.find_cluster_by_name(name)
    except ClientError as error:
        raise invocation.failure(error, f"looking for cluster {name!r}") from error
    if existing is None:
        raise invocation.failure(conflict, f"restoring cluster {name!r}")
    arn = str(existing["clusterArn"])
    found = (api.tags_of(arn) or {}).get(rules.OWNER_TAG)
    if found != owner:
        raise invocation.CopyFailed(
            f"name in use: cluster {arn} already holds the name {name!r} and is not this resource's "
            f"(its {rules.OWNER_TAG} tag: {str(found)[:100]!r}); choose another cluster_name"
        )
    logger.info({"message": "adopting the cluster an earlier delivery made", "ClusterArn": arn})
    return existing


def _start_restore(request: Request, props: ClusterProperties, name: str, api: ClusterService) -> Outcome:
    owner = cluster_decisions.owner_tag_value(request.stack_id, request.logical_id, props, name)
    try:
        cluster = api.restore(
            props.snapshot_arn,
            name,
            kms_key_id=props.kms_key_id,
            shard_capacity=props.shard_capacity,
            shard_instance_count=props.shard_instance_count,
            subnet_ids=props.subnet_ids,
            vpc_security_group_ids=props.vpc_security_group_ids,
            tags={**props.tags, rules.OWNER_TAG: owner},
        )
    except ClientError as error:
        if error_code(error) != "ConflictException":
            raise invocation.failure(error, f"restoring {props.snapshot_arn} to cluster {name!r}") from error
        cluster = _adopt(name, owner, error, api)
    arn = str(cluster["clusterArn"])
    invocation.copy_made(arn)  # from now on a timeout answer carries the cluster, for the rollback's Delete
    logger.info({"message": "restore started", "ClusterArn": arn, "SnapshotArn": props.snapshot_arn})
    return invocation.started(request, arn, arn, props.timeout_seconds)


def _poll_cluster(request: Request, arn: str, doing: str) -> Outcome:
    """Done once the cluster is ACTIVE; fails on a status it will not leave by itself, or at the deadline."""
    try:
        cluster = service().get_cluster(arn)
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"reading cluster {arn}") from error
    if cluster is None:
        raise invocation.CopyFailed(f"cluster {arn} no longer exists; it was deleted while {doing}")
    status = str(cluster.get("status"))
    progress = decisions.progress_of(status)
    logger.info({"message": "cluster status", "ClusterArn": arn, "Status": status})
    if progress is decisions.Progress.DONE:
        return Done(arn, cluster_decisions.attributes(cluster))
    if progress is decisions.Progress.FAILED:
        raise invocation.CopyFailed(f"cluster {arn} ended in status {status} while {doing}")
    if invocation.past_deadline(request):
        raise invocation.CopyFailed(
            f"cluster {arn} was not ACTIVE within {invocation.timeout(request)} seconds (status {status}) "
            f"while {doing}; raise the RestoredCluster timeout if it takes longer"
        )
    return Waiting()


def create(request: Request, context: Any) -> Outcome:
    props = _parse(request.properties)
    return _start_restore(request, props, props.cluster_name, _create_service(request, context))


def poll_create(request: Request, context: Any) -> Outcome:
    return _poll_cluster(request, invocation.watched_arn(request), "restoring")


def _owner_of_current(request: Request, context: Any) -> str | None:
    """The ownership tag of the cluster an Update is asked to change, None when it is gone; fails unless it is
    this resource's."""
    physical_id = request.physical_id or ""
    account, region = invocation.account_and_region(context)
    me = decisions.owner_name(request.stack_id, request.logical_id)
    if cluster_decisions.owned_cluster_arn(physical_id, region=region, account=account) is None:
        raise invocation.CopyFailed(
            f"physical id {physical_id[:300]!r} is not a cluster of {region}/{account}; RestoredCluster {me} "
            "updates only the cluster it made"
        )
    try:
        tags = service().tags_of(physical_id)
    except ClientError as error:
        raise invocation.failure(error, f"reading the tags of cluster {physical_id}") from error
    if tags is None:
        return None
    owner = tags.get(rules.OWNER_TAG)
    if not decisions.owned_by(owner, request.stack_id, request.logical_id):
        raise invocation.CopyFailed(
            f"cluster {physical_id} belongs to {str(owner or 'no one (it has no ownership tag)')[:100]!r}, "
            f"not to RestoredCluster {me}; it is left unchanged"
        )
    return str(owner)


def update(request: Request, context: Any) -> Outcome:
    new = _parse(request.properties)
    old = _old_properties(request.old_properties)
    arn = str(request.physical_id)
    current_owner = _owner_of_current(request, context)
    if cluster_decisions.replaced_by(old, new):
        # A cluster made from exactly these properties (as after a rolled-back update) is kept.
        kept = cluster_decisions.owner_tag_value(request.stack_id, request.logical_id, new, new.cluster_name)
        if current_owner != kept:
            name = cluster_decisions.replacement_name(old, new, request.request_id)
            return _start_restore(request, new, name, service())
    if current_owner is None:
        raise invocation.CopyFailed(f"cluster {arn} no longer exists; remove it from the stack or rename it")
    changes = decisions.tag_changes(old.tags, new.tags)
    settings = cluster_decisions.update_arguments(old, new)
    try:
        service().untag(arn, changes.to_remove)
        service().tag(arn, changes.to_set)
        cluster = service().update_cluster(arn, settings) if settings else service().get_cluster(arn)
    except ClientError as error:
        raise invocation.failure(error, f"updating cluster {arn}") from error
    if cluster is None:
        raise invocation.CopyFailed(f"cluster {arn} no longer exists; remove it from the stack or rename it")
    logger.info({"message": "cluster updated in place", "ClusterArn": arn, "Changed": sorted(settings)})
    if settings:
        return invocation.started(request, arn, arn, new.timeout_seconds)
    return Done(arn, cluster_decisions.attributes(cluster))


def poll_update(request: Request, context: Any) -> Outcome:
    arn = invocation.watched_arn(request)
    if arn == request.physical_id:
        return _poll_cluster(request, arn, "updating")
    try:
        return _poll_cluster(request, arn, "restoring a replacement")
    except invocation.CopyFailed as failure:
        return _discard_failed_cluster(arn, str(failure))


def _discard_failed_cluster(arn: str, reason: str) -> Outcome:
    """A replacement cluster that failed is not the resource's: delete it rather than leak it."""
    try:
        deletion = service().delete_cluster(arn)
    except ClientError as error:
        why = f"deleting failed: {error_code(error)}"
        return Failed(f"delete replacement cluster {arn} yourself ({why}); {reason}")
    logger.warning({"message": f"failed replacement cluster: delete {deletion.value}", "ClusterArn": arn})
    if deletion is Deletion.BUSY:
        return Failed(f"delete replacement cluster {arn} yourself (it refused deletion); {reason}")
    return Failed(reason)


def _cluster_named_in_properties(request: Request) -> str | None:
    """The cluster a Create restored before it could answer with its ARN, found by its name and an
    ownership tag naming exactly this resource and properties."""
    try:
        props = _parse(request.properties)
    except ValueError:
        return None  # a Create refused for its properties made nothing
    try:
        cluster = service().find_cluster_by_name(props.cluster_name)
        if cluster is None:
            return None
        arn = str(cluster["clusterArn"])
        owner = (service().tags_of(arn) or {}).get(rules.OWNER_TAG)
    except ClientError as error:
        raise invocation.failure(error, f"looking for cluster {props.cluster_name!r}") from error
    mine = cluster_decisions.owner_tag_value(request.stack_id, request.logical_id, props, props.cluster_name)
    if owner != mine:
        logger.info({"message": "the cluster holding the name is not this resource's; left alone"})
        return None
    return arn


def _own_cluster(request: Request, context: Any) -> str | None:
    """The cluster this Delete may remove: this resource's own, or None (then nothing is touched)."""
    physical_id = request.physical_id or ""
    account, region = invocation.account_and_region(context)
    arn = cluster_decisions.owned_cluster_arn(physical_id, region=region, account=account)
    if arn is None:
        if decisions.searchable_by_name(physical_id):
            return _cluster_named_in_properties(request)
        logger.info({"message": "not a cluster of this account and region; nothing to delete"})
        return None
    try:
        tags = service().tags_of(arn)
    except ClientError as error:
        raise invocation.failure(error, f"reading the tags of cluster {arn}") from error
    if tags is None:
        logger.info({"message": "already gone", "ClusterArn": arn})
        return None
    owner = tags.get(rules.OWNER_TAG)
    if not decisions.owned_by(owner, request.stack_id, request.logical_id):
        logger.warning({"message": "not this resource's cluster; left alone", "ClusterArn": arn})
        return None
    return arn


def delete(request: Request, context: Any) -> Outcome:
    physical_id = request.physical_id or ""
    arn = _own_cluster(request, context)
    if arn is None:
        return Done(physical_id)
    try:
        deletion = service().delete_cluster(arn)
    except ClientError as error:
        raise invocation.failure(error, f"deleting cluster {arn}") from error
    if deletion is Deletion.GONE:
        return Done(physical_id)
    timeout = properties.DEFAULT_TIMEOUT_SECONDS
    if isinstance(request.properties, Mapping):
        with contextlib.suppress(ValueError):
            timeout = parse_cluster_properties(request.properties).timeout_seconds
    logger.info({"message": f"delete {deletion.value}", "ClusterArn": arn})
    return invocation.started(request, physical_id, arn, timeout)


def poll_delete(request: Request, context: Any) -> Outcome:
    arn = invocation.watched_arn(request)
    busy = False
    try:
        cluster = service().get_cluster(arn)
        if cluster is not None and cluster.get("status") != decisions.DELETING:
            # Deletion was refused as busy (an update still under way): ask again until it takes.
            deletion = service().delete_cluster(arn)
            busy = deletion is Deletion.BUSY
            if deletion is Deletion.GONE:
                cluster = None
    except ClientError as error:
        if invocation.still_transient(error, request):
            return Waiting()
        raise invocation.failure(error, f"deleting cluster {arn}") from error
    if cluster is None:
        logger.info({"message": "deleted", "ClusterArn": arn})
        return Done(request.physical_id or arn)
    if invocation.past_deadline(request):
        refused = " and refused deletion as busy" if busy else ""
        raise invocation.CopyFailed(
            f"cluster {arn} was still {cluster.get('status')}{refused} after {invocation.timeout(request)} "
            "seconds"
        )
    return Waiting()
