"""A local, wire-compatible Amazon DocumentDB Elastic Clusters service: snapshots, copies, and clusters
created, restored from snapshots, updated and deleted.

Layout, as in a moto backend: `state` (clusters, snapshots and their rules), `operations` (one function per
operation), `wire` (rest-json in and out), `routing` (routes from the model), `service_model` (botocore's
model of the service and validation against it), `errors` (the service's exceptions), `identity` (account and
region from SigV4), `faults` (throttling, injected errors, latency, copy and restore outcomes), `calls` (the
record of calls), `clock` (the wall clock or a `ManualClock`), `service` (the WSGI app), `control` (the HTTP
control API), `serving` (a WSGI app on loopback), `server` (the service served there), `pytest_plugin` (the
`local_docdb_elastic` fixture) and `__main__` (the CLI).

It stands alone: it imports nothing else of `copied_snapshot_local_cloud` (which uses it, and its
`serving`), so it can be used on its own.
"""

from copied_snapshot_local_cloud.docdb_elastic.calls import Call, CallLog
from copied_snapshot_local_cloud.docdb_elastic.clock import ManualClock, SystemClock
from copied_snapshot_local_cloud.docdb_elastic.faults import Faults
from copied_snapshot_local_cloud.docdb_elastic.server import LocalDocDBElastic
from copied_snapshot_local_cloud.docdb_elastic.state import Backend, Durations

__all__ = [
    "Backend",
    "Call",
    "CallLog",
    "Durations",
    "Faults",
    "LocalDocDBElastic",
    "ManualClock",
    "SystemClock",
]
