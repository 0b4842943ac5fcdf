"""`python -m copied_snapshot_local_cloud`: deploy a synthesized CDK app to the local cloud.

demo ASSEMBLY     start the cloud, seed source snapshots, deploy every stack, show the outputs and a report,
                  then destroy (or, with --keep-running, keep serving until interrupted)
serve             run the cloud until interrupted, so that deploy and destroy can be separate commands
deploy ASSEMBLY   deploy (create or update) the assembly's stacks to the serving cloud
destroy ASSEMBLY  destroy them, dependents first
seed ARN...       make source snapshots exist in the serving cloud
cdk ARGS...       run the CDK CLI (`cdk bootstrap`, `cdk deploy`, ...) against the serving cloud
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from copied_snapshot_local_cloud import serving
from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.cdk_cli import (
    bootstrap_targets,
    cli_account,
    find_cdk,
    read_outputs,
    run_cdk,
)
from copied_snapshot_local_cloud.cloud import DEFAULT_REGION, AtLeastOnce, LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import DeploymentError
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.control import ControlServer, send, serving_endpoint
from copied_snapshot_local_cloud.docdb_elastic.identity import DEFAULT_ACCOUNT
from copied_snapshot_local_cloud.lambda_runtime.runner import Faults
from copied_snapshot_local_cloud.progress import Progress, outputs_lines

DEFAULT_STATE_DIR = Path(".local-cloud")
CDK_HOME = "cdk-home"  # in the state folder: the CDK CLI's cache, apart from the user's
COPIED_SNAPSHOT = "Custom::CopiedSnapshot"
COMMANDS = {
    "demo": (
        "deploy an assembly to a new local cloud, show its outputs, then destroy it",
        "Starts the local cloud, seeds source snapshots, deploys every stack (or --stacks), prints the "
        "outputs and a report, then destroys the stacks and stops; with --keep-running it "
        "serves them instead.",
    ),
    "serve": (
        "run the local cloud until interrupted",
        "Runs the local cloud on loopback until Ctrl-C, so that deploy, destroy and seed can be run as "
        "separate commands against the same --state-dir.",
    ),
    "deploy": (
        "deploy an assembly's stacks to the serving cloud",
        "Creates or updates the assembly's stacks on the cloud serving --state-dir, in dependency order, "
        "printing stack events as they happen and the outputs at the end.",
    ),
    "destroy": (
        "destroy an assembly's stacks on the serving cloud",
        "Deletes the assembly's deployed stacks from the cloud serving --state-dir, dependents first.",
    ),
    "seed": (
        "make source snapshots exist in the serving cloud",
        "Creates each ARN as a docdb-elastic cluster snapshot (encrypted with a key of its region) in the "
        "cloud serving --state-dir, as if it existed before any deployment.",
    ),
    "cdk": (
        "run the CDK CLI against the serving cloud",
        "Runs the CDK CLI with ARGS (e.g. `bootstrap aws://111122223333/us-east-1`, `deploy --all`) with "
        "every AWS call going to the one endpoint of the cloud serving --state-dir, acting as --account, "
        "and exits with the CLI's exit code.",
    ),
}


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a probability is between 0 and 1, got {text}")
    return value


ORDERS: dict[str, Callable[[int], Order]] = {
    "parallel": lambda seed: Order.parallel(),
    "hostile": lambda seed: Order.hostile(),
    "seeded": Order.seeded,
    "one-at-a-time": lambda seed: Order.one_at_a_time(),
}


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a time scale is positive, got {text}")
    return value


def _cloud_options(command: argparse.ArgumentParser) -> None:
    clock = command.add_argument_group("time")
    clock.add_argument(
        "--time-scale",
        type=_positive,
        default=60.0,
        help="simulated seconds per wall-clock second, for every wait (60: rate(1 minute) fires each second)",
    )
    clock.add_argument(
        "--simulated-clock",
        action="store_true",
        help="also skip the time in which nothing runs, straight to the next due event",
    )
    command.add_argument(
        "--order",
        choices=ORDERS,
        default="parallel",
        help="the order of a stack's resources among those their dependencies allow: parallel (every ready "
        "resource at once, the default), hostile (undeclared needs fail), seeded (random by --seed), "
        "one-at-a-time",
    )
    unkind = command.add_argument_group("at least once and faults (seeded)")
    unkind.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    unkind.add_argument(
        "--duplicate-events",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that EventBridge delivers a rule's target twice",
    )
    unkind.add_argument(
        "--duplicate-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the second delivery within this many seconds (default 0: at the same time)",
    )
    unkind.add_argument(
        "--no-async-retries",
        action="store_true",
        help="do not retry failed asynchronous Lambda invocations (Lambda tries twice more)",
    )
    unkind.add_argument(
        "--worker-crash", type=_probability, default=0.0, metavar="P", help="probability a Lambda worker dies"
    )
    unkind.add_argument(
        "--lambda-timeout",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability an invocation gets only a few seconds of its function's timeout",
    )
    command.add_argument(
        "--fresh",
        action="store_true",
        help="wipe what earlier runs left in --state-dir (stacks, services' state, logs) before starting; "
        "without it, a run continues from the state the last one saved",
    )
    command.add_argument(
        "--seed-snapshot",
        action="append",
        default=[],
        metavar="ARN",
        help="an automated snapshot (and its cluster, encrypted with the account's default key) "
        "that exists before deploying",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m copied_snapshot_local_cloud",
        description=__doc__.split("\n")[0],
        epilog="`python -m copied_snapshot_local_cloud COMMAND --help` describes each command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, description) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=description)
        command.add_argument(
            "--state-dir",
            type=Path,
            default=DEFAULT_STATE_DIR,
            help=f"where the cloud keeps its stacks, logs and endpoints (default {DEFAULT_STATE_DIR})",
        )
        if name in ("demo", "deploy", "destroy"):
            command.add_argument("assembly", type=Path, help="the cloud assembly directory (cdk.out)")
            command.add_argument("--stacks", nargs="*", help="only these stacks (default: all)")
        if name in ("demo", "serve"):
            _cloud_options(command)
        if name in ("demo", "cdk"):
            command.add_argument(
                "--cdk", default="cdk", help="the CDK CLI to run (default: `cdk` on PATH, the pinned one)"
            )
    commands.choices["seed"].add_argument("arns", nargs="+", metavar="ARN", help="a cluster snapshot ARN")
    demo = commands.choices["demo"]
    demo.add_argument(
        "--seed-sources",
        action="store_true",
        help="seed every source snapshot ARN the assembly's CopiedSnapshots name, as --seed-snapshot does",
    )
    demo.add_argument(
        "--show", action="append", default=[], metavar="STACK.OUTPUT", help="print this output last"
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="serve the deployed stacks instead of destroying"
    )
    demo.add_argument(
        "--cli",
        action="store_true",
        help="deploy and destroy with the CDK CLI (cdk bootstrap, cdk deploy --all, cdk destroy --all) "
        "against the cloud's one endpoint, instead of the cloud's own deploy",
    )
    cdk = commands.choices["cdk"]
    cdk.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"act as this account (default {DEFAULT_ACCOUNT})"
    )
    cdk.add_argument(
        "--region", default=DEFAULT_REGION, help=f"the default region (default {DEFAULT_REGION})"
    )
    cdk.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARGS", help="the CDK CLI's arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    state_dir: Path = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        if options.command in ("deploy", "destroy"):
            body = {"assembly": str(options.assembly.resolve()), "stacks": options.stacks}
            return 0 if send(state_dir, options.command, body) else 1
        if options.command == "seed":
            return 0 if send(state_dir, "seed", {"snapshots": options.arns}) else 1
        if options.command == "cdk":
            return _cdk(options, state_dir)
        return _run(options, state_dir)
    except (DeploymentError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the local cloud stopped", file=sys.stderr)
        return 130


def _delivery(options: argparse.Namespace) -> AtLeastOnce:
    faults = Faults(
        async_retries=not options.no_async_retries,
        worker_crash=options.worker_crash,
        lambda_timeout=options.lambda_timeout,
        seed=options.seed,
    )
    return AtLeastOnce(options.duplicate_events, options.duplicate_delay, faults)


def _cdk(options: argparse.Namespace, state_dir: Path) -> int:
    done = run_cdk(
        find_cdk(options.cdk),
        [argument for argument in options.arguments if argument != "--"],
        endpoint_url=serving_endpoint(state_dir, "gateway"),
        account=options.account,
        region=options.region,
        cwd=Path.cwd(),
        cdk_home=state_dir / CDK_HOME,
        timeout=None,
        capture=False,
    )
    return done.returncode


def _run(options: argparse.Namespace, state_dir: Path) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    cloud = LocalCloud(
        state_dir,
        gateway=True,
        time_scale=options.time_scale,
        simulated=options.simulated_clock,
        seed=options.seed,
        delivery=_delivery(options),
        fresh=options.fresh,
        order=ORDERS[options.order](options.seed),
    )
    with (
        cloud,
        Progress(
            lambda line: print(line, flush=True), cloud.clock, requests=cloud.custom.waiting_for
        ) as progress,
    ):
        if not getattr(options, "cli", False):  # the CLI shows the stack events itself
            cloud.watch(progress)
        sources = list(options.seed_snapshot)
        if getattr(options, "seed_sources", False):
            sources += [arn for arn in copy_sources(cloud.stacks(options.assembly)) if arn not in sources]
        for arn in sources:
            print(f"seeded source snapshot {cloud.seed_source_snapshot(arn)}")
        if options.command == "serve":
            return _serve(cloud)
        if options.cli:
            return _demo_with_cli(cloud, options)
        try:
            stacks = cloud.deploy(options.assembly, options.stacks)
        except DeploymentError as error:
            print(f"\n ❌  deployment failed: {error}")
            print(cloud.report().text())
            return 1
        for stack in stacks:
            print("\n".join(["", *outputs_lines(stack)]))
        outputs = {
            f"{stack.stack_name}.{name}": value for stack in stacks for name, value in stack.outputs.items()
        }

        def destroy() -> bool:
            destroyed = cloud.destroy(options.assembly, options.stacks)
            print(f"\ndestroyed: {', '.join(destroyed)}")
            return True

        return _end_demo(cloud, options, outputs, destroy)


def _end_demo(
    cloud: LocalCloud, options: argparse.Namespace, outputs: Mapping[str, str], destroy: Callable[[], bool]
) -> int:
    """Shows the outputs asked for, then serves the stacks (--keep-running) or destroys them and shows the
    report and those outputs again, last; 1 when the destroy failed or an output asked for is missing."""
    shown = [f"{wanted} = {outputs.get(wanted, '(no such output)')}" for wanted in options.show]
    print("\n".join(["", *shown]), flush=True)
    if options.keep_running:
        print(f"\n{cloud.report().text()}\nreport: {cloud.write_report()}\n")
        return _serve(cloud)
    if not destroy():
        return 1
    print(f"\n{cloud.report().text()}\nreport: {cloud.write_report()}")
    print("\n".join(["", *shown]))
    return 0 if all(wanted in outputs for wanted in options.show) else 1


def _demo_with_cli(cloud: LocalCloud, options: argparse.Namespace) -> int:
    """The demo as a user runs it: the CDK CLI bootstraps, deploys the assembly, and destroys it."""
    stacks = cloud.stacks(options.assembly, options.stacks)
    assembly = str(options.assembly.resolve())
    chosen = options.stacks or ["--all"]
    outputs_file = cloud.state_dir / "outputs.json"
    outputs_file.unlink(missing_ok=True)
    cdk = find_cdk(options.cdk)
    account = cli_account(stacks)
    region = stacks[0].region

    def step(*arguments: str) -> bool:
        print(f"\n$ cdk {' '.join(arguments)}", flush=True)
        done = run_cdk(
            cdk,
            [*arguments, "--app", assembly, "--no-notices"],
            endpoint_url=cloud.gateway_url,
            account=account,
            region=region,
            cwd=Path.cwd(),
            cdk_home=cloud.state_dir / CDK_HOME,
            timeout=None,
            capture=False,
        )
        if done.returncode != 0:
            print(
                f"\n ❌  `cdk {arguments[0]}` failed (exit {done.returncode}): its error is above", flush=True
            )
        return done.returncode == 0

    if not (
        step("bootstrap", *bootstrap_targets(stacks))
        and step("deploy", *chosen, "--require-approval", "never", "--outputs-file", str(outputs_file))
    ):
        return 1
    return _end_demo(cloud, options, read_outputs(outputs_file), lambda: step("destroy", *chosen, "--force"))


def copy_sources(stacks: list[Stack]) -> list[str]:
    """The literal source snapshot ARNs of the CopiedSnapshot resources in these stacks."""
    found: list[str] = []
    for stack in stacks:
        for resource in stack.template.get("Resources", {}).values():
            source = resource.get("Properties", {}).get("SourceSnapshotArn")
            if resource.get("Type") == COPIED_SNAPSHOT and isinstance(source, str) and source not in found:
                found.append(source)
    return found


def _serve(cloud: LocalCloud) -> int:
    stopped = serving.stop_on_signals()
    control = ControlServer(cloud)
    control.start()
    try:
        print(f"local cloud serving: control {control.url}")
        print(f"  AWS_ENDPOINT_URL={cloud.gateway_url} (every service, CloudFormation's API too)")
        print(
            "  the CDK CLI against it: "
            "python -m copied_snapshot_local_cloud cdk bootstrap | deploy | destroy ..."
        )
        print("press Ctrl-C to stop", flush=True)
        serving.until_stopped(stopped)
    finally:
        control.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
