"""The control API: seed, configure, inject faults and read the call log and state over HTTP.

It lives under `/_local/`, a path no AWS operation uses, so a server started from the CLI (or in another
process) can be driven the way the Python API drives an in-process one. The same data formats serve the
CLI's `--seed-file` and `--faults-file`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from copied_snapshot_local_cloud.docdb_elastic import errors, identity
from copied_snapshot_local_cloud.docdb_elastic.state import Backend

if TYPE_CHECKING:
    from copied_snapshot_local_cloud.docdb_elastic.service import DocDBElasticService

PREFIX = "/_local/"


def seed(backend: Backend, spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Create the clusters and snapshots a spec lists, in any account (12 digits) and region; answers their
    ARNs. Every item's account and region are checked before anything is created.

    `{"clusters": [{"account", "region", "name", "kmsKeyId"?, "tags"?, "adminUserName"?, "authType"?,
                    "shardCapacity"?, "shardCount"?, "shardInstanceCount"?}],
      "snapshots": [{"account", "region", "name", "kmsKeyId"?, "tags"?, "clusterArn"?, "status"?,
                     "snapshotType"?, "snapshotId"?}]}`
    """
    for item in [*spec.get("clusters", []), *spec.get("snapshots", [])]:
        identity.acting_in(item["account"], item["region"])
    clusters = [
        backend.create_cluster(
            identity.acting_in(item["account"], item["region"]),
            name=item["name"],
            admin_user_name=item.get("adminUserName", "admin"),
            auth_type=item.get("authType", "PLAIN_TEXT"),
            shard_capacity=int(item.get("shardCapacity", 2)),
            shard_count=int(item.get("shardCount", 1)),
            shard_instance_count=item.get("shardInstanceCount"),
            kms_key_id=item.get("kmsKeyId", ""),
            tags=item.get("tags"),
        ).arn
        for item in spec.get("clusters", [])
    ]
    snapshots = [
        backend.seed_snapshot(
            account=item["account"],
            region=item["region"],
            name=item["name"],
            kms_key_id=item.get("kmsKeyId", ""),
            tags=item.get("tags"),
            cluster_arn=item.get("clusterArn"),
            status=item.get("status", "ACTIVE"),
            snapshot_type=item.get("snapshotType", "MANUAL"),
            snapshot_id=item.get("snapshotId"),
        ).arn
        for item in spec.get("snapshots", [])
    ]
    return {"clusters": clusters, "snapshots": snapshots}


def configure(backend: Backend, spec: Mapping[str, Any]) -> None:
    """`{"durations": {"copy": 2.0, ...}, "snapshotQuota": 100, "faults": [<fault spec>, ...]}`."""
    backend.configure(durations=spec.get("durations"), snapshot_quota=spec.get("snapshotQuota"))
    for fault in spec.get("faults", []):
        backend.faults.apply(fault, now=backend.clock.now())


def _state(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    return {**service.backend.state(), "faults": service.backend.faults.describe()}


def _calls(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    return [call.as_dict() for call in service.calls.all()]


def _clear_calls(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    service.calls.clear()
    return {}


def _seed(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    return seed(service.backend, body)


def _configure(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    configure(service.backend, body)
    return {}


def _clear_faults(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    service.backend.faults.clear()
    return {}


def _reset(service: DocDBElasticService, body: Mapping[str, Any]) -> Any:
    """Back to an empty service: no state, faults or calls; `{"seed": n}` also reseeds ids and faults."""
    service.backend.reset(body.get("seed"))
    service.backend.faults.clear()
    service.calls.clear()
    return {}


ACTIONS: dict[tuple[str, str], Callable[[DocDBElasticService, Mapping[str, Any]], Any]] = {
    ("GET", "state"): _state,
    ("GET", "calls"): _calls,
    ("DELETE", "calls"): _clear_calls,
    ("POST", "seed"): _seed,
    ("POST", "config"): _configure,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "reset"): _reset,
}


def handle(service: DocDBElasticService, request: Request) -> Response:
    action = ACTIONS.get((request.method, request.path[len(PREFIX) :].strip("/")))
    if action is None:
        return _json({"message": f"no control action {request.method} {request.path}"}, status=404)
    try:
        data = request.get_data(cache=False)
        return _json(action(service, json.loads(data) if data.strip() else {}))
    except (errors.ServiceError, ValueError, KeyError, TypeError) as error:
        return _json({"message": f"{type(error).__name__}: {error}"}, status=400)


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, content_type="application/json")
