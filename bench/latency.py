#!/usr/bin/env python3
"""Latency benchmark: how soon the stack learns that a copy is ACTIVE (and that a deleted copy is gone), and
what that costs, on the local cloud with a simulated clock, side by side with a baseline handler written the
way crhelper's README shows (`bench/baseline_handler`: `poll_create`/`poll_delete`, crhelper's defaults).

Usage: `python bench/latency.py` (everything), or parts: `--minutes 2 10 30` (copy durations, simulated
minutes), `--phases 0 5 ... 55` (seconds each copy's end is moved by, one copy per phase, so that the ends
fall anywhere in a polling round), `--many 100` (copies in one stack, 2-minute copies, with and without an
account-wide throttle of `--throttle 5` docdb-elastic requests a second), `--lambda-concurrency 10`,
`--construct` (construct and synth time and template size for 1, 10, 50 and 100 copies), `--skip-sweep`,
`--skip-many`.

Every figure is in the local cloud's simulated seconds (time scale 1, idle time skipped), except the
construct and synth times and the `wall` column (wall-clock seconds the run took). The local docdb-elastic
service deletes a snapshot in 60 simulated seconds (assumed). Columns:
- active→answer: seconds from the copy becoming ACTIVE to CloudFormation receiving SUCCESS (median, max);
- gone→answer: seconds from the deleted copy being gone to the Delete's SUCCESS (median, max);
- gets/copy: GetClusterSnapshot calls per copy over create and delete; gets/min: per minute of waiting;
- invocations/copy and Lambda s/copy: Lambda invocations and their billed seconds (sleeps included);
- for `--many`: copies whose Create succeeded, FAILED answers, the simulated seconds from the first Create
  to the last answer, and calls answered ThrottlingException.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import crhelper
from aws_cdk import App, CustomResource, Duration, Environment, Stack
from aws_cdk import aws_lambda as lambda_

from copied_snapshot import CopiedSnapshot
from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import DeployFailed
from copied_snapshot_local_cloud.docdb_elastic.state import Durations

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).resolve().parent / "baseline_handler"
ACCOUNT, REGION = "123456789012", "us-east-1"
SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/latency-source"
DELETE_SECONDS = 60  # how long the local service takes to delete a snapshot (assumed)
HANDLERS = ("ours", "baseline")
STACK = "Latency"


@dataclass(frozen=True)
class Run:
    handler: str
    minutes: float
    copies: int
    throttle: float | None
    active_lags: list[float]
    gone_lags: list[float]
    gets: int
    waiting_minutes: float
    invocations: int
    lambda_seconds: float
    succeeded: int
    failed: int
    span: float
    throttled: int
    wall: float


def cdk_context() -> dict[str, object]:
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def baseline_asset(directory: Path) -> Path:
    """The baseline's code with crhelper beside it, as `pip install crhelper -t` would leave it."""
    asset = directory / "baseline-asset"
    asset.mkdir(parents=True)
    shutil.copy(BASELINE / "index.py", asset / "index.py")
    shutil.copytree(Path(crhelper.__file__).parent, asset / "crhelper")
    return asset


def synth(handler: str, copies: int, directory: Path) -> Path:
    """One stack of `copies` copies of SOURCE, named latency-0..., made by `handler`."""
    app = App(outdir=str(directory / f"{handler}-{copies}"), context=cdk_context())
    stack = Stack(app, STACK, env=Environment(account=ACCOUNT, region=REGION))
    names = [f"latency-{index}" for index in range(copies)]
    if handler == "ours":
        for index, name in enumerate(names):
            CopiedSnapshot(stack, f"Copy{index}", source_snapshot_arn=SOURCE, target_snapshot_name=name)
    else:
        function = lambda_.Function(
            stack,
            "Baseline",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(baseline_asset(directory / f"asset-{copies}"))),
            timeout=Duration.minutes(5),
        )
        for index, name in enumerate(names):
            CustomResource(
                stack,
                f"Copy{index}",
                service_token=function.function_arn,
                resource_type="Custom::BaselineCopy",
                properties={"SourceSnapshotArn": SOURCE, "TargetSnapshotName": name},
            )
    return Path(app.synth().directory)


def run(
    handler: str,
    assembly: Path,
    *,
    minutes: float,
    copies: int,
    phases: Sequence[float],
    throttle: float | None,
    concurrency: int,
    state_dir: Path,
) -> Run:
    """Deploys and destroys the assembly; copy `i` ends `phases[i % len(phases)]` seconds after `minutes`."""
    durations = Durations(cluster=0, snapshot=0, copy=minutes * 60, delete=DELETE_SECONDS)
    started = time.monotonic()
    with LocalCloud(
        state_dir,
        time_scale=1.0,
        simulated=True,
        durations=durations,
        fresh=True,
        lambda_concurrency=concurrency,
    ) as cloud:
        cloud.seed_source_snapshot(SOURCE, encrypted=False)
        for index in range(copies):
            phase = phases[index % len(phases)]
            if phase:
                cloud.docdb.faults.stall_copies(name=f"latency-{index}", seconds=phase)
        if throttle:
            cloud.docdb.faults.throttle(
                "*", rate=throttle, burst=max(1, int(throttle)), now=cloud.clock.now()
            )
        for step, act in (("deploy", cloud.deploy), ("destroy", cloud.destroy)):
            try:
                act(assembly)
            except DeployFailed as error:  # counted in the FAILED column; the run goes on
                print(f"  {handler}: the {step} failed: {str(error)[:200]}", file=sys.stderr)
        report = cloud.report()
        calls = cloud.docdb.calls.all()
        invocations = list(cloud.runner.invocations)
    creates = [t for t in report.timelines if t.request_type == "Create"]
    deletes = [t for t in report.timelines if t.request_type == "Delete"]
    answered = [t.response_received for t in creates if t.response_received is not None]
    waiting = sum((t.copy_active - t.event_sent) for t in creates if t.copy_active is not None) + sum(
        (t.copy_gone - t.event_sent) for t in deletes if t.copy_gone is not None
    )
    return Run(
        handler=handler,
        minutes=minutes,
        copies=copies,
        throttle=throttle,
        active_lags=[
            t.response_received - t.copy_active
            for t in creates
            if t.status == "SUCCESS" and t.copy_active is not None and t.response_received is not None
        ],
        gone_lags=[
            t.response_received - t.copy_gone
            for t in deletes
            if t.status == "SUCCESS" and t.copy_gone is not None and t.response_received is not None
        ],
        gets=sum(1 for call in calls if call.operation == "GetClusterSnapshot"),
        waiting_minutes=waiting / 60,
        invocations=len(invocations),
        lambda_seconds=sum(record.duration for record in invocations if record.ended),
        succeeded=sum(1 for t in creates if t.status == "SUCCESS"),
        failed=sum(1 for t in report.timelines if t.status == "FAILED"),
        span=(max(answered) - min(t.event_sent for t in creates)) if answered else 0.0,
        throttled=sum(1 for call in calls if call.outcome == "ThrottlingException"),
        wall=time.monotonic() - started,
    )


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):5.1f} / {max(values):5.1f}"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, as the README shows it."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(f"| {' | '.join(cells)} |" for cells in lines)


def sweep_table(runs: Sequence[Run]) -> str:
    header = [
        "handler", "copy", "copies", "active→answer s (median / max)", "gone→answer s (median / max)",
        "gets/copy", "gets/min", "invocations/copy", "Lambda s/copy", "wall s",
    ]  # fmt: skip
    rows = [
        [
            r.handler,
            f"{r.minutes:g} min",
            str(r.copies),
            _spread(r.active_lags),
            _spread(r.gone_lags),
            f"{r.gets / r.copies:.1f}",
            f"{r.gets / r.waiting_minutes if r.waiting_minutes else 0.0:.1f}",
            f"{r.invocations / r.copies:.1f}",
            f"{r.lambda_seconds / r.copies:.1f}",
            f"{r.wall:.0f}",
        ]
        for r in runs
    ]
    return markdown(header, rows)


def many_table(runs: Sequence[Run]) -> str:
    header = [
        "handler", "throttle", "copies ACTIVE and answered", "FAILED", "first Create → last answer s",
        "throttled calls", "active→answer s (median / max)", "wall s",
    ]  # fmt: skip
    rows = [
        [
            r.handler,
            f"{r.throttle:g}/s" if r.throttle else "none",
            f"{r.succeeded}/{r.copies}",
            str(r.failed),
            f"{r.span:.0f}",
            str(r.throttled),
            _spread(r.active_lags),
            f"{r.wall:.0f}",
        ]
        for r in runs
    ]
    return markdown(header, rows)


def construct_table(counts: Sequence[int]) -> str:
    """Construct and synth time and template size per copy count (bundling skipped: the same asset)."""
    rows = []
    App(context={"aws:cdk:bundling-stacks": []})  # jsii's start-up is not any count's cost
    for count in counts:
        app = App(context={**cdk_context(), "aws:cdk:bundling-stacks": []})
        stack = Stack(app, STACK, env=Environment(account=ACCOUNT, region=REGION))
        started = time.perf_counter()
        for index in range(count):
            CopiedSnapshot(stack, f"Copy{index}", source_snapshot_arn=SOURCE)
        constructed = time.perf_counter() - started
        started = time.perf_counter()
        assembly = app.synth()
        synthesized = time.perf_counter() - started
        size = len(json.dumps(assembly.get_stack_by_name(STACK).template)) / 1024
        per_copy = constructed / count * 1000
        rows.append(
            [str(count), f"{constructed:.2f}", f"{per_copy:.0f}", f"{synthesized:.2f}", f"{size:.0f}"]
        )
    return markdown(["copies", "construct s", "per copy ms", "synth s", "template KB"], rows)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10, 30])
    # Ends every 5 s over a minute: ours polls in one-minute rounds, so every part of a round is met.
    parser.add_argument("--phases", type=float, nargs="+", default=[5.0 * k for k in range(12)])
    parser.add_argument("--many", type=int, default=100)
    parser.add_argument("--throttle", type=float, default=5.0)
    parser.add_argument("--lambda-concurrency", type=int, default=10)
    parser.add_argument("--handlers", nargs="+", choices=HANDLERS, default=list(HANDLERS))
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-many", action="store_true")
    parser.add_argument("--construct", action="store_true", help="also the construct and synth table")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="latency-") as scratch:
        directory = Path(scratch)
        if not options.skip_sweep:
            copies = len(options.phases)
            assemblies = {handler: synth(handler, copies, directory) for handler in options.handlers}
            runs = [
                run(
                    handler,
                    assemblies[handler],
                    minutes=minutes,
                    copies=copies,
                    phases=options.phases,
                    throttle=None,
                    concurrency=options.lambda_concurrency,
                    state_dir=directory / f"cloud-{handler}-{minutes:g}",
                )
                for minutes in options.minutes
                for handler in options.handlers
            ]
            print(f"Copies ending at phases {', '.join(f'{p:g}' for p in options.phases)} s:\n")
            print(sweep_table(runs), flush=True)
        if not options.skip_many and options.many:
            assemblies = {handler: synth(handler, options.many, directory) for handler in options.handlers}
            many = [
                run(
                    handler,
                    assemblies[handler],
                    minutes=2,
                    copies=options.many,
                    phases=options.phases,
                    throttle=throttle,
                    concurrency=options.lambda_concurrency,
                    state_dir=directory / f"many-{handler}-{throttle}",
                )
                for throttle in (None, options.throttle)
                for handler in options.handlers
            ]
            print(
                f"\n{options.many} copies of 2 minutes in one stack, Lambda concurrency "
                f"{options.lambda_concurrency}:\n"
            )
            print(many_table(many), flush=True)
    if options.construct:
        print("\nConstruct and synth (wall-clock seconds):\n")
        print(construct_table([1, 10, 50, 100]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
