"""The custom resources' life cycles, wired into crhelper: a Custom::RestoredCluster's requests go to
`clusters`, every other type's (Custom::CopiedSnapshot) to the copy's functions."""

from __future__ import annotations

import logging
from typing import Any

from copied_snapshot_runtime import clusters, copies, deletion, invocation, snapshots
from copied_snapshot_runtime.cluster_properties import RESOURCE_TYPE as CLUSTER_TYPE
from copied_snapshot_runtime.invocation import helper
from copied_snapshot_runtime.request import Request
from copied_snapshot_runtime.resource import Function

logger = logging.getLogger(__name__)


def by_type(copy_function: Function, cluster_function: Function) -> Function:
    """The function for the request's ResourceType (polls keep it in their events)."""

    def run(request: Request, context: Any) -> Any:
        chosen = cluster_function if request.resource_type == CLUSTER_TYPE else copy_function
        return chosen(request, context)

    return run


helper.create(by_type(copies.create, clusters.create))
helper.poll_create(by_type(copies.poll_create, clusters.poll_create))
helper.update(by_type(copies.update, clusters.update))
helper.poll_update(by_type(copies.poll_update, clusters.poll_update))
helper.delete(by_type(deletion.delete, clusters.delete))
helper.poll_delete(by_type(deletion.poll_delete, clusters.poll_delete))


def handler(event: dict[str, Any], context: Any) -> None:
    """Runs the request, then logs what this invocation cost: requests by operation, in-process asks and
    seconds (what a benchmark of polling reads)."""
    before, started = snapshots.calls_made.copy(), invocation.clock()
    try:
        helper(event, context)
    finally:
        logger.info(
            {
                "message": "invocation ended",
                "Calls": dict(snapshots.calls_made - before),
                "Asks": helper.asks,
                "Seconds": round(invocation.clock() - started, 3),
            }
        )
