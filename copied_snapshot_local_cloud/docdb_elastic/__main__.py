"""`python -m copied_snapshot_local_cloud.docdb_elastic`: serve the local docdb-elastic service until
interrupted."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from copied_snapshot_local_cloud.docdb_elastic.errors import ServiceError
from copied_snapshot_local_cloud.docdb_elastic.server import LocalDocDBElastic
from copied_snapshot_local_cloud.docdb_elastic.serving import LOOPBACK, stop_on_signals, until_stopped
from copied_snapshot_local_cloud.docdb_elastic.state import DEFAULT_SNAPSHOT_QUOTA, Durations


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m copied_snapshot_local_cloud.docdb_elastic",
        description="Serve a local, wire-compatible docdb-elastic service. Point clients at it with "
        "AWS_ENDPOINT_URL_DOCDB_ELASTIC; drive it through /_local/ "
        "(state, calls, seed, config, faults, reset).",
    )
    parse.add_argument("--host", default=LOOPBACK)
    parse.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parse.add_argument("--seed", type=int, default=0, help="seed for ids and injected faults")
    for name in vars(Durations()):
        parse.add_argument(f"--{name}-seconds", type=float, default=0.0, help=f"how long {name} work takes")
    parse.add_argument("--snapshot-quota", type=int, default=DEFAULT_SNAPSHOT_QUOTA)
    parse.add_argument("--seed-file", type=Path, help="JSON clusters and snapshots to create at start")
    parse.add_argument("--config-file", type=Path, help="JSON durations, quota and faults to apply at start")
    return parse


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    durations = Durations(**{name: getattr(options, f"{name}_seconds") for name in vars(Durations())})
    service = LocalDocDBElastic(
        host=options.host,
        port=options.port,
        seed=options.seed,
        durations=durations,
        snapshot_quota=options.snapshot_quota,
    )
    try:
        if options.config_file:
            service.configure(json.loads(options.config_file.read_text()))
        seeded = service.seed(json.loads(options.seed_file.read_text())) if options.seed_file else {}
    except (OSError, ServiceError, ValueError, KeyError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stopped = stop_on_signals()
    service.start()
    try:
        print(f"docdb-elastic listening on {service.endpoint_url}", flush=True)
        for kind, arns in seeded.items():
            for arn in arns:
                print(f"seeded {kind[:-1]} {arn}", flush=True)
        until_stopped(stopped)
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
