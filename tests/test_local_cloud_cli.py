"""The local cloud as separate commands: serve, deploy, deploy again with changes, destroy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import App, CfnOutput, Environment, Stack

import app as example_app
from copied_snapshot import CopiedSnapshot

ACCOUNT = "123456789012"
REGION = "us-east-1"
SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/cli-source"


def assembly(directory: Path, tier: str) -> Path:
    app = App(outdir=str(directory))
    stack = Stack(app, "CliStack", env=Environment(account=ACCOUNT, region=REGION))
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, tags={"tier": tier})
    CfnOutput(stack, "CopyArn", value=copy.snapshot_arn)
    return Path(app.synth().directory)


def local_cloud(state_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local_cloud", *arguments, "--state-dir", str(state_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def until_serving(command: list[str]) -> subprocess.Popen[str]:
    """A local cloud command started, once it says it serves."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("local cloud serving"):
            break
    return process


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    command = [
        sys.executable, "-m", "local_cloud", "serve", "--state-dir", str(state_dir),
        "--time-scale", "240", "--seed-snapshot", SOURCE,
    ]  # fmt: skip
    server = until_serving(command)
    try:
        yield state_dir
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_deploy_deploy_again_and_destroy_are_separate_commands(serving: Path, tmp_path: Path) -> None:
    first = local_cloud(serving, "deploy", str(assembly(tmp_path / "one", "gold")))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "CliStack | " in first.stdout
    assert "CREATE_COMPLETE" in first.stdout
    arn = next(
        line.split(" = ")[1] for line in first.stdout.splitlines() if line.startswith("CliStack.CopyArn")
    )
    stored = json.loads((serving / "stacks" / "CliStack.json").read_text())
    assert stored["status"] == "CREATE_COMPLETE"
    assert stored["outputs"]["CopyArn"] == arn

    second = local_cloud(serving, "deploy", str(assembly(tmp_path / "two", "silver")))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "UPDATE_COMPLETE" in second.stdout
    assert f"CliStack.CopyArn = {arn}" in second.stdout  # tags change in place: the same copy

    gone = local_cloud(serving, "destroy", str(tmp_path / "two"))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "CliStack: destroyed" in gone.stdout
    assert not (serving / "stacks" / "CliStack.json").exists()


def test_deploy_without_a_serving_cloud_says_how_to_start_one(tmp_path: Path) -> None:
    refused = local_cloud(tmp_path / "nothing", "deploy", str(tmp_path))
    assert refused.returncode == 1
    assert "no local cloud is serving" in refused.stderr
    assert "python -m local_cloud serve" in refused.stderr


@pytest.fixture(scope="module")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    application = App(outdir=str(tmp_path_factory.mktemp("example") / "cdk.out"))
    example_app.build(application)
    return Path(application.synth().directory)


def test_demo_deploys_shows_the_consumers_arn_destroys_and_exits_0(
    example_assembly: Path, tmp_path: Path
) -> None:
    shown = "SnapshotConsumerStack.RestoreSnapshotArn"
    run = local_cloud(
        tmp_path, "demo", str(example_assembly), "--seed-sources", "--show", shown, "--time-scale", "240"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"seeded source snapshot {example_app.DEFAULT_SOURCE_SNAPSHOT_ARN}"
    assert "SnapshotCopyStack | " in run.stdout
    assert "destroyed: SnapshotConsumerStack, SnapshotCopyStack" in lines
    assert re.fullmatch(
        rf"{shown} = arn:aws:docdb-elastic:us-east-1:{ACCOUNT}:cluster-snapshot/[0-9a-f-]+", lines[-1]
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert [entry["request_type"] for entry in report["customResources"]] == ["Create", "Delete"]


def test_demo_keeps_running_with_its_stacks_when_asked(example_assembly: Path, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "local_cloud", "demo", str(example_assembly), "--seed-sources",
        "--keep-running", "--time-scale", "240", "--state-dir", str(tmp_path),
    ]  # fmt: skip
    demo = until_serving(command)
    assert json.loads((tmp_path / "stacks" / "SnapshotConsumerStack.json").read_text())["status"] == (
        "CREATE_COMPLETE"
    )
    demo.terminate()
    assert demo.wait(timeout=30) == 0
