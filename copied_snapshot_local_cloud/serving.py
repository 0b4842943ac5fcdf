"""Serving on loopback for every server of the local cloud: the local docdb-elastic service's own module,
which it carries so that it stands alone; re-exported here for the rest of the local cloud."""

from copied_snapshot_local_cloud.docdb_elastic.serving import (
    LOOPBACK,
    POLL_SECONDS,
    QuietHandler,
    Running,
    serve,
    stop,
    stop_on_signals,
    until_stopped,
    wait_awake,
)

__all__ = [
    "LOOPBACK",
    "POLL_SECONDS",
    "QuietHandler",
    "Running",
    "serve",
    "stop",
    "stop_on_signals",
    "until_stopped",
    "wait_awake",
]
