#!/usr/bin/env python3
"""The fault campaign: deploy, update and destroy a three-stack app on the local cloud under seeded faults,
and count what was lost.

Usage: `python bench/fault_campaign.py --seeds 20` (seeds 1 to 20; `--first N` to start elsewhere). It prints
one row per seed and exits 1 if any leak column of any seed is not 0, or a FAILED reason does not name its
snapshot and cause.

The app: `CampaignCopies` (three copies of a seeded source, one re-encrypted with the stack's key, one
exported), `CampaignMore` (two copies), `CampaignConsumer` (an SSM parameter holding the exported ARN: a
cross-stack reference). The run: deploy it; deploy it again with changed tags on two copies and a new name
on one (a replacement); destroy it. A step that fails because of an injected fault is not retried, except
the destroy, which is run once more the way a user would after a DELETE_FAILED.

Faults, drawn per seed: docdb-elastic throttling of every operation (an account-wide token bucket), injected
InternalServerExceptions, latency; one copy ending INACCESSIBLE_ENCRYPTION_CREDS; one copy stalled for
longer than its resource's timeout (it becomes ACTIVE later); Lambda invocations cut short by a timeout and
workers killed mid-invocation (Lambda retries failed asynchronous invocations twice); EventBridge delivering
a rule's target twice; the ResponseURL refusing answers with HTTP 5xx and going away for 40 seconds; a
seeded order of CloudFormation's work among what the dependencies allow.

Columns:
- requests: custom resource requests CloudFormation sent;
- unanswered: requests CloudFormation waited for until ServiceTimeout (not those it cancelled);
- false FAILED: FAILED answers that no fatal fault explains. Fatal faults are those that make the operation
  impossible: a copy ending in a failure status (the reason names that status), a copy stalled beyond its
  resource's timeout (the reason names the timeout), and an invocation cut short by Lambda's timeout (crhelper
  answers FAILED before Lambda ends it; the reason says it timed out). Throttling, internal errors, latency,
  killed workers, repeated deliveries and ResponseURL errors must be survived: a FAILED they cause is false;
- bad reasons: FAILED reasons that name neither the resource's snapshot name nor a copy's ARN (a failed
  replacement names the new copy); the cause is checked by the false FAILED column: a justified reason
  names its fatal fault;
- orphans: copies left after the destroy, plus copies that no stack held after a step had settled (the stack
  lost track of them);
- rules, targets, permissions: EventBridge rules and targets left after each step settled and after the
  destroy, and Lambda permissions beyond those the templates declare;
- stuck: stacks not settled within the step's time limit, or left after the second destroy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnOutput, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm

from copied_snapshot import CopiedSnapshot
from copied_snapshot_local_cloud.cloud import AtLeastOnce, LocalCloud
from copied_snapshot_local_cloud.cloudformation.custom import Timeline
from copied_snapshot_local_cloud.cloudformation.errors import DeployFailed
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.responses import ResponseFaults
from copied_snapshot_local_cloud.docdb_elastic.state import Durations
from copied_snapshot_local_cloud.lambda_runtime.runner import Faults
from copied_snapshot_runtime import decisions, rules

PROJECT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/campaign-source"
# Simulated seconds: a ten-minute copy, a one-minute delete; the copies' timeout is 20 minutes.
DURATIONS = Durations(cluster=0, snapshot=0, copy=600, delete=60)
COPY_TIMEOUT_MINUTES = 20
STALL_SECONDS = 1500.0  # beyond the timeout: the Create fails, the copy becomes ACTIVE 25 minutes late
FAILURE_STATUS = "INACCESSIBLE_ENCRYPTION_CREDS"
OUTAGE_SECONDS = 40.0
SETTLE_SECONDS = 300.0  # simulated seconds after a step before its leftovers are counted
STEP_LIMIT_SECONDS = 600.0  # wall-clock seconds a step may take before its stacks count as stuck
# A copy's ARN (the service makes its id a UUID; the source's is its name).
COPY_ARN = re.compile(r"arn:aws:docdb-elastic:[a-z0-9-]+:\d{12}:cluster-snapshot/[0-9a-f-]{36}")
STACKS = ("CampaignCopies", "CampaignMore", "CampaignConsumer")
LAMBDA_TIMED_OUT = "Execution timed out"  # the handler's answer when Lambda is about to end an invocation
COPY_TIMED_OUT = "was not ACTIVE within"  # the handler's answer when a copy outlasts its resource's timeout
STILL_COPYING = "still COPYING"  # ... when a Delete's copy is still being made at its resource's timeout


@dataclass(frozen=True)
class Copy:
    stack: str
    logical_id: str
    name: str  # the copy's snapshot name in this generation


def copies(generation: int) -> list[Copy]:
    """The app's copies; generation 2 renames `Renamed` (a replacement)."""
    return [
        Copy("CampaignCopies", "Kept", "campaign-kept"),
        Copy("CampaignCopies", "Tagged", "campaign-tagged"),
        Copy("CampaignCopies", "Renamed", f"campaign-renamed-{generation}"),
        Copy("CampaignMore", "Second", "campaign-second"),
        Copy("CampaignMore", "Keyed", "campaign-keyed"),
    ]


def build(app: App, generation: int) -> None:
    """The campaign's app; generation 2 changes tags on two copies and renames one."""
    env = Environment(account=ACCOUNT, region=REGION)
    tags = {"team": "orders", "generation": str(generation)}
    timeout = Duration.minutes(COPY_TIMEOUT_MINUTES)
    stacks = {name: Stack(app, name, env=env) for name in STACKS}
    key = kms.Key(stacks["CampaignCopies"], "Key", removal_policy=RemovalPolicy.DESTROY)
    made: dict[str, CopiedSnapshot] = {}
    for copy in copies(generation):
        stack = stacks[copy.stack]
        options: dict[str, Any] = {}
        if copy.logical_id in ("Tagged", "Second"):
            options["tags"] = tags
        if copy.logical_id == "Keyed":
            options["kms_key"] = kms.Key(stack, "OwnKey", removal_policy=RemovalPolicy.DESTROY)
        if copy.logical_id == "Kept":
            options["kms_key"] = key
        made[copy.logical_id] = CopiedSnapshot(
            stack,
            copy.logical_id,
            source_snapshot_arn=SOURCE,
            target_snapshot_name=copy.name,
            copy_tags=True,
            timeout=timeout,
            **options,
        )
    consumer = stacks["CampaignConsumer"]
    parameter = ssm.StringParameter(consumer, "KeptArn", string_value=made["Kept"].snapshot_arn)
    CfnOutput(consumer, "KeptArnParameter", value=parameter.parameter_name)


def synthesize(directory: Path, generation: int) -> Path:
    """The app of `generation` synthesized with cdk.json's context and the real bundling, as `cdk synth`."""
    context = json.loads((PROJECT / "cdk.json").read_text()).get("context", {})
    app = App(outdir=str(directory / f"cdk.out.{generation}"), context=context)
    build(app, generation)
    return Path(app.synth().directory)


@dataclass(frozen=True)
class Plan:
    """The faults of one seed."""

    seed: int
    throttle_rate: float
    error_probability: float
    latency: float
    failing_copy: str | None
    stalled_copy: str | None
    delivery: AtLeastOnce
    response_faults: ResponseFaults

    @staticmethod
    def of(seed: int) -> Plan:
        rng = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        names = sorted({copy.name for generation in (1, 2) for copy in copies(generation)})
        failing, stalled = rng.sample(names, 2)
        outage_start = rng.uniform(0.0, 900.0)
        return Plan(
            seed=seed,
            throttle_rate=rng.uniform(2.0, 5.0),
            error_probability=rng.uniform(0.02, 0.08),
            latency=rng.uniform(0.0, 0.2),
            failing_copy=failing if rng.random() < 0.6 else None,
            stalled_copy=stalled if rng.random() < 0.6 else None,
            delivery=AtLeastOnce(
                duplicates=rng.uniform(0.1, 0.3),
                duplicate_delay=rng.choice((0.0, 5.0)),
                faults=Faults(
                    worker_crash=rng.uniform(0.02, 0.08),
                    lambda_timeout=rng.uniform(0.02, 0.08),
                    seed=seed,
                ),
            ),
            response_faults=ResponseFaults(
                error_probability=rng.uniform(0.05, 0.2),
                outages=((outage_start, outage_start + OUTAGE_SECONDS),),
                seed=seed,
            ),
        )

    def fatal_marks(self) -> list[str]:
        """What a FAILED reason that a fatal fault explains says: an invocation cut short, and, when this
        seed injects them, the failure status or a copy outlasting its timeout."""
        marks = [LAMBDA_TIMED_OUT]
        if self.failing_copy:
            marks.append(FAILURE_STATUS)
        if self.stalled_copy:
            marks += [COPY_TIMED_OUT, STILL_COPYING]
        return marks


@dataclass
class Row:
    seed: int
    requests: int = 0
    unanswered: int = 0
    false_failed: int = 0
    bad_reasons: int = 0
    orphans: int = 0
    rules: int = 0
    targets: int = 0
    permissions: int = 0
    stuck: int = 0
    met: dict[str, int] = field(default_factory=dict)  # faults met, by kind: what the seed really did
    failed_steps: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    LEAKS = (
        "unanswered",
        "false_failed",
        "bad_reasons",
        "orphans",
        "rules",
        "targets",
        "permissions",
        "stuck",
    )

    def leaks(self) -> int:
        return sum(int(getattr(self, name)) for name in self.LEAKS)


def run_seed(seed: int, assemblies: Sequence[Path], state_dir: Path) -> Row:
    """Deploys, updates and destroys the app under the seed's faults; answers what was lost."""
    plan = Plan.of(seed)
    row = Row(seed)
    with LocalCloud(
        state_dir,
        time_scale=1.0,
        simulated=True,
        durations=DURATIONS,
        seed=seed,
        order=Order.seeded(seed),
        delivery=plan.delivery,
        response_faults=plan.response_faults,
        fresh=True,  # a kept folder of an earlier campaign is not carried on from
    ) as cloud:
        cloud.seed_source_snapshot(SOURCE, tags={"team": "orders"})
        _inject(cloud, plan)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("deploy", lambda: cloud.deploy(assemblies[0])),
            ("update", lambda: cloud.deploy(assemblies[1])),
            ("destroy", lambda: cloud.destroy(assemblies[1])),
        ]
        for name, step in steps:
            if not _run_step(name, step, row):
                break
            _let_settle(cloud)
            _check_settled(cloud, row, name)
        if cloud.store.all():  # a user runs the destroy again after a DELETE_FAILED
            _run_step("destroy again", lambda: cloud.destroy(assemblies[1]), row)
        left = [f"{stack.stack_name} ({stack.status})" for stack in cloud.store.all()]
        if left:
            row.stuck += len(left)
            row.findings.append(f"stacks left: {', '.join(left)}")
        _check_destroyed(cloud, row)
        judge_answers(cloud.custom.timelines, plan, row)
        row.met = faults_met(cloud)
    return row


def _inject(cloud: LocalCloud, plan: Plan) -> None:
    faults = cloud.docdb.faults
    faults.throttle("*", rate=plan.throttle_rate, burst=5, now=cloud.docdb.backend.clock.now())
    faults.fail("*", error="InternalServerException", probability=plan.error_probability)
    faults.slow("*", seconds=plan.latency)
    if plan.failing_copy:
        faults.end_copies(FAILURE_STATUS, name=plan.failing_copy, times=1)
    if plan.stalled_copy:
        faults.stall_copies(name=plan.stalled_copy, times=1, seconds=STALL_SECONDS)


def _run_step(name: str, step: Callable[[], object], row: Row) -> bool:
    """Runs a step with a time limit; False when it did not settle in time (then nothing more is run)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(step)
    try:
        future.result(timeout=STEP_LIMIT_SECONDS)
    except DeployFailed as error:
        row.failed_steps.append(f"{name}: {error}")
    except concurrent.futures.TimeoutError:
        row.stuck += 1
        row.findings.append(f"{name} did not settle within {STEP_LIMIT_SECONDS:.0f} s")
        pool.shutdown(wait=False, cancel_futures=True)
        return False
    pool.shutdown(wait=False)
    return True


def _let_settle(cloud: LocalCloud) -> None:
    """Lets what a step leaves running finish: Lambda's retries of failed asynchronous invocations (after
    one and two minutes), repeated deliveries, invocations that answered and are cleaning up."""
    with cloud.clock.busy():
        cloud.clock.sleep(SETTLE_SECONDS)


def faults_met(cloud: LocalCloud) -> dict[str, int]:
    """How many faults of each kind the run met (a seed's plan says what may happen, this what did)."""
    outcomes = [call.outcome for call in cloud.docdb.calls.all()]
    invocations = list(cloud.runner.invocations)
    return {
        "throttled": outcomes.count("ThrottlingException"),
        "errors": outcomes.count("InternalServerException"),
        "crashed": sum(item.outcome == "crashed" for item in invocations),
        "timed out": sum(item.outcome == "timeout" for item in invocations),
        "twice": sum(item.trigger == "events (again)" for item in invocations),
        "refused": cloud.responses.refused,
    }


def _snapshots(cloud: LocalCloud) -> list[dict[str, Any]]:
    return [item for item in cloud.docdb.backend.state()["snapshots"] if item["snapshotArn"] != SOURCE]


def _check_settled(cloud: LocalCloud, row: Row, step: str) -> None:
    """After a step: every copy belongs to a stack (or is on its way out), and no polling is left behind.

    A copy belongs to a stack's resource whose physical id is its ARN, or, for a resource whose Create
    never answered (its id is CloudFormation's), whose ownership tag names that resource: its Delete finds
    it by name."""
    stacks = cloud.store.all()
    held = {resource.physical_id for stack in stacks for resource in stack.resources.values()}
    owners = [(stack.stack_id, logical_id) for stack in stacks for logical_id in stack.resources]
    for snapshot in _snapshots(cloud):
        owner = snapshot["tags"].get(rules.OWNER_TAG)
        if any(decisions.owned_by(owner, stack_id, logical_id) for stack_id, logical_id in owners):
            continue
        if snapshot["snapshotArn"] not in held and snapshot["status"] != "DELETING":
            row.orphans += 1
            row.findings.append(
                f"after {step}: {snapshot['snapshotName']} ({snapshot['status']}) belongs to no stack"
            )
    _count_polling(cloud, row, step)
    declared = sum(
        resource.type == "AWS::Lambda::Permission"
        for stack in cloud.store.all()
        for resource in stack.resources.values()
    )
    granted = 0
    awslambda = cloud.client("lambda", REGION)
    for function in awslambda.list_functions()["Functions"]:
        try:
            policy = awslambda.get_policy(FunctionName=function["FunctionName"])["Policy"]
        except awslambda.exceptions.ResourceNotFoundException:
            continue
        granted += policy.count('"Sid"')
    if granted > declared:
        row.permissions += granted - declared
        row.findings.append(f"after {step}: {granted} Lambda permissions, {declared} declared")


def _count_polling(cloud: LocalCloud, row: Row, step: str) -> None:
    events = cloud.client("events", REGION)
    rules = events.list_rules()["Rules"]
    targets = sum(len(events.list_targets_by_rule(Rule=rule["Name"])["Targets"]) for rule in rules)
    if rules or targets:
        row.rules += len(rules)
        row.targets += targets
        row.findings.append(f"after {step}: rules {[rule['Name'] for rule in rules]} left")


def _check_destroyed(cloud: LocalCloud, row: Row) -> None:
    left = [f"{item['snapshotName']} ({item['status']})" for item in _snapshots(cloud)]
    left = [item for item in left if not item.endswith("(DELETING)")]
    if left:
        row.orphans += len(left)
        row.findings.append(f"after destroy: {', '.join(left)} left")


def judge_answers(timelines: Sequence[Timeline], plan: Plan, row: Row) -> None:
    """Counts the requests, those never answered, the false FAILED answers and the reasons that do not name
    their snapshot (see the module's docstring)."""
    names: dict[str, set[str]] = {}  # construct id -> the snapshot names it had
    for generation in (1, 2):
        for copy in copies(generation):
            names.setdefault(copy.logical_id, set()).add(copy.name)
    marks = plan.fatal_marks()
    for timeline in timelines:
        row.requests += 1
        if timeline.status == "TIMED_OUT":
            row.unanswered += 1
            row.findings.append(f"{timeline.stack}/{timeline.logical_id} {timeline.request_type}: no answer")
        if timeline.status != "FAILED":
            continue
        reason = timeline.reason
        if not any(mark in reason for mark in marks):
            row.false_failed += 1
            row.findings.append(f"false FAILED {timeline.logical_id} {timeline.request_type}: {reason}")
        own = {timeline.physical_id}.union(
            *(found for construct, found in names.items() if timeline.logical_id.startswith(construct))
        )
        if not any(name and name in reason for name in own) and not COPY_ARN.search(reason):
            row.bad_reasons += 1
            row.findings.append(f"reason names no snapshot: {timeline.logical_id}: {reason}")


COLUMNS = (
    ("seed", "seed"),
    ("requests", "requests"),
    ("unanswered", "answers never sent"),
    ("false_failed", "false FAILED"),
    ("bad_reasons", "reasons without snapshot/cause"),
    ("orphans", "orphaned snapshots"),
    ("rules", "rules left"),
    ("targets", "targets left"),
    ("permissions", "permissions left"),
    ("stuck", "stuck stacks"),
)


MET = ("throttled", "errors", "crashed", "timed out", "twice", "refused")


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows, and their totals: what was lost, then what the seed met (throttled and
    failed docdb-elastic calls, invocations crashed and timed out, polls delivered twice, answers refused by
    the ResponseURL, steps failed by a fatal fault)."""
    header = [title for _, title in COLUMNS] + [f"met: {kind}" for kind in MET] + ["failed steps"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]

    def cells(row: Row) -> list[int]:
        counts = [int(getattr(row, name)) for name, _ in COLUMNS[1:]]
        return [*counts, *(row.met.get(kind, 0) for kind in MET), len(row.failed_steps)]

    for row in rows:
        lines.append("| " + " | ".join([str(row.seed), *map(str, cells(row))]) + " |")
    totals = [sum(column) for column in zip(*(cells(row) for row in rows), strict=True)] if rows else []
    lines.append("| " + " | ".join(["total", *map(str, totals)]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--verbose", action="store_true", help="print each seed's findings and failed steps")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="work in DIR and keep each seed's state and logs there"
    )
    options = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fault-campaign-") as scratch:
        directory = options.keep or Path(scratch)
        assemblies = [synthesize(directory, generation) for generation in (1, 2)]
        for seed in range(options.first, options.first + options.seeds):
            row = run_seed(seed, assemblies, directory / f"seed-{seed}")
            rows.append(row)
            print(f"seed {seed}: {row.requests} requests, {row.leaks()} leaks", file=sys.stderr, flush=True)
            if options.verbose or row.leaks():
                for line in row.failed_steps + row.findings:
                    print(f"  {line}", file=sys.stderr)
    print(table(rows))
    leaks = [row.seed for row in rows if row.leaks()]
    if leaks:
        print(f"leaks in seeds {', '.join(map(str, leaks))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
