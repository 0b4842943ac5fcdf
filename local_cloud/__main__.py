"""`python -m local_cloud`: deploy a synthesized CDK app to the local cloud.

demo ASSEMBLY     start the cloud, seed source snapshots, deploy every stack, show the outputs and a report,
                  then destroy (or, with --keep-running, keep serving until interrupted)
serve             run the cloud until interrupted, so that deploy and destroy can be separate commands
deploy ASSEMBLY   deploy (create or update) the assembly's stacks to the serving cloud
destroy ASSEMBLY  destroy them, dependents first
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from local_cloud import serving
from local_cloud.assembly import Stack
from local_cloud.cloud import LocalCloud
from local_cloud.cloudformation.engine import DeployFailed
from local_cloud.control import ControlServer, send
from local_cloud.progress import outputs_lines, printer

DEFAULT_STATE_DIR = Path(".local-cloud")
COPIED_SNAPSHOT = "Custom::CopiedSnapshot"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_cloud", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "serve", "deploy", "destroy"):
        command = commands.add_parser(name)
        command.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
        if name != "serve":
            command.add_argument("assembly", type=Path, help="the cloud assembly directory (cdk.out)")
            command.add_argument("--stacks", nargs="*", help="only these stacks (default: all)")
        if name in ("demo", "serve"):
            command.add_argument(
                "--time-scale",
                type=float,
                default=60.0,
                help="how much faster EventBridge schedules run (60: rate(1 minute) fires every second)",
            )
            command.add_argument(
                "--seed-snapshot",
                action="append",
                default=[],
                metavar="ARN",
                help="an automated snapshot (and its cluster, encrypted with the account's default key) "
                "that exists before deploying",
            )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    state_dir: Path = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        if options.command == "deploy":
            body = {"assembly": str(options.assembly.resolve()), "stacks": options.stacks}
            return 0 if send(state_dir, "deploy", body) else 1
        if options.command == "destroy":
            body = {"assembly": str(options.assembly.resolve()), "stacks": options.stacks}
            return 0 if send(state_dir, "destroy", body) else 1
        return _run(options, state_dir)
    except (RuntimeError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the local cloud stopped", file=sys.stderr)
        return 130


def _run(options: argparse.Namespace, state_dir: Path) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    with LocalCloud(state_dir, time_scale=options.time_scale, progress=printer()) as cloud:
        sources = list(options.seed_snapshot)
        if getattr(options, "seed_sources", False):
            sources += [arn for arn in copy_sources(cloud.stacks(options.assembly)) if arn not in sources]
        for arn in sources:
            print(f"seeded source snapshot {cloud.seed_source_snapshot(arn)}")
        if options.command == "serve":
            return _serve(cloud)
        try:
            stacks = cloud.deploy(options.assembly, options.stacks)
        except DeployFailed as error:
            print(f"\n ❌  deployment failed: {error}")
            print(cloud.report().text())
            return 1
        for stack in stacks:
            print("\n".join(["", *outputs_lines(stack)]))
        outputs = {
            f"{stack.stack_name}.{name}": value for stack in stacks for name, value in stack.outputs.items()
        }
        shown = [f"{wanted} = {outputs.get(wanted, '(no such output)')}" for wanted in options.show]
        print("\n".join(["", *shown]))
        if options.keep_running:
            print(f"\n{cloud.report().text()}\nreport: {cloud.write_report()}\n")
            return _serve(cloud)
        destroyed = cloud.destroy(options.assembly, options.stacks)
        print(f"\ndestroyed: {', '.join(destroyed)}")
        print(f"\n{cloud.report().text()}\nreport: {cloud.write_report()}")
        print("\n".join(["", *shown]))
        return 0 if all(wanted in outputs for wanted in options.show) else 1


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
        print(
            f"  AWS_ENDPOINT_URL_DOCDB_ELASTIC={cloud.docdb.endpoint_url} AWS_ENDPOINT_URL={cloud.moto_url}"
        )
        print("press Ctrl-C to stop", flush=True)
        stopped.wait()
    finally:
        control.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
