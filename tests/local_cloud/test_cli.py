"""The local cloud as separate commands: serve, deploy, deploy again with changes, destroy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from aws_cdk import App, CfnOutput, Environment, Stack

import app as example_app
from copied_snapshot import CopiedSnapshot
from copied_snapshot_local_cloud import __main__ as cli
from copied_snapshot_local_cloud.cloudformation.store import StackState, StackStore
from copied_snapshot_local_cloud.control import body_problem, send
from tests.support.constants import ACCOUNT, CDK, REGION, snapshot_arn

SOURCE = snapshot_arn("cli-source")


def assembly(directory: Path, tier: str) -> Path:
    app = App(outdir=str(directory))
    stack = Stack(app, "CliStack", env=Environment(account=ACCOUNT, region=REGION))
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, tags={"tier": tier})
    CfnOutput(stack, "CopyArn", value=copy.snapshot_arn)
    return Path(app.synth().directory)


def local_cloud(state_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "copied_snapshot_local_cloud", *arguments, "--state-dir", str(state_dir)]
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
        sys.executable, "-m", "copied_snapshot_local_cloud", "serve", "--state-dir", str(state_dir),
        "--time-scale", "240", "--seed-snapshot", SOURCE, "--order", "hostile",
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

    assert "Deployment time: " in first.stdout
    assert "(no changes)" not in first.stdout

    second = local_cloud(serving, "deploy", str(assembly(tmp_path / "two", "silver")))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "UPDATE_COMPLETE" in second.stdout
    assert f"CliStack.CopyArn = {arn}" in second.stdout  # tags change in place: the same copy
    assert "(no changes)" not in second.stdout

    again = local_cloud(serving, "deploy", str(tmp_path / "two"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert " ✅  CliStack (no changes)" in again.stdout

    gone = local_cloud(serving, "destroy", str(tmp_path / "two"))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "CliStack: destroyed" in gone.stdout
    assert not (serving / "stacks" / "CliStack.json").exists()


def test_seed_makes_a_source_snapshot_exist_in_the_serving_cloud(serving: Path) -> None:
    other = SOURCE.replace("cli-source", "cli-seeded")
    seeded = local_cloud(serving, "seed", other)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert f"seeded source snapshot {other}" in seeded.stdout
    endpoint = json.loads((serving / "endpoints.json").read_text())["docdb-elastic"]
    client = boto3.client("docdb-elastic", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id=ACCOUNT, aws_secret_access_key="local")  # fmt: skip
    assert client.get_cluster_snapshot(snapshotArn=other)["snapshot"]["snapshotArn"] == other


@pytest.mark.parametrize(
    ("action", "body", "problem"),
    [
        ("deploy", {}, "the body needs 'assembly'"),
        ("deploy", {"assembly": 5}, "'assembly' must be a string"),
        ("destroy", {"assembly": "cdk.out", "stacks": "CliStack"}, "'stacks' must be a list of strings"),
        ("seed", {"snapshots": [1]}, "'snapshots' must be a list of strings"),
        ("seed", [], "the body must be a JSON object"),
    ],
)
def test_a_malformed_request_body_is_refused_before_anything_is_done(
    action: str, body: object, problem: str
) -> None:
    assert body_problem(("POST", f"/{action}"), body) == problem


def test_a_request_the_cloud_cannot_act_on_fails_with_its_reason(serving: Path, tmp_path: Path) -> None:
    endpoint = json.loads((serving / "endpoints.json").read_text())["control"]
    malformed = urllib.request.Request(f"{endpoint}/deploy", data=b'{"assembly": 5}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(malformed)
    assert refused.value.code == 400
    assert refused.value.read().decode() == "FAILED 'assembly' must be a string\n"
    lines: list[str] = []
    assert not send(serving, "seed", {"snapshots": ["arn:aws:s3:::bucket"]}, lines.append)
    assert lines == ["FAILED arn:aws:s3:::bucket is not a docdb-elastic cluster-snapshot ARN"]
    nothing = tmp_path / "empty"
    nothing.mkdir()
    assert not send(serving, "deploy", {"assembly": str(nothing)}, lines.append)
    assert lines[-1].startswith(f"FAILED {nothing} is not a cloud assembly")


@pytest.mark.parametrize("command", ["demo", "serve", "deploy", "destroy", "seed", "cdk"])
def test_every_command_has_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: python -m copied_snapshot_local_cloud {command}")
    assert cli.COMMANDS[command][1].split(",")[0] in " ".join(shown.split())
    assert "--state-dir" in shown


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for command, (summary, _) in cli.COMMANDS.items():
        assert f"{command} {summary}" in shown


def test_cloud_options_reach_the_cloud(tmp_path: Path) -> None:
    options = cli._parser().parse_args(
        [
            "serve",
            "--simulated-clock",
            "--seed",
            "5",
            "--duplicate-events",
            "0.3",
            "--no-async-retries",
            "--worker-crash",
            "0.1",
            "--lambda-timeout",
            "0.2",
        ]
    )
    delivery = cli._delivery(options)
    assert (delivery.duplicates, delivery.faults.async_retries) == (0.3, False)
    assert (delivery.faults.worker_crash, delivery.faults.lambda_timeout, delivery.faults.seed) == (
        0.1,
        0.2,
        5,
    )
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["serve", "--worker-crash", "2"])
    assert cli._parser().parse_args(["demo", "cdk.out", "--order", "hostile"]).order == "hostile"
    assert cli._parser().parse_args(["serve"]).order == "parallel"
    for wrong in (["--order", "sideways"], ["--time-scale", "0"]):
        with pytest.raises(SystemExit):
            cli._parser().parse_args(["serve", *wrong])


def test_deploy_without_a_serving_cloud_says_how_to_start_one(tmp_path: Path) -> None:
    refused = local_cloud(tmp_path / "nothing", "deploy", str(tmp_path))
    assert refused.returncode == 1
    assert "no local cloud is serving" in refused.stderr
    assert "python -m copied_snapshot_local_cloud serve" in refused.stderr


@pytest.fixture(scope="module")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    application = App(outdir=str(tmp_path_factory.mktemp("example") / "cdk.out"))
    example_app.build(application)
    return Path(application.synth().directory)


def test_demo_deploys_shows_the_consumers_arn_destroys_and_exits_0(
    example_assembly: Path, tmp_path: Path
) -> None:
    shown = "SnapshotConsumerStack.RestoreSnapshotArn"
    endpoint = "SnapshotConsumerStack.StagingClusterEndpoint"
    run = local_cloud(
        tmp_path, "demo", str(example_assembly), "--seed-sources", "--show", shown, "--show", endpoint,
        "--time-scale", "240",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"seeded source snapshot {example_app.DEFAULT_SOURCE_SNAPSHOT_ARN}"
    assert "SnapshotCopyStack | " in run.stdout
    assert "destroyed: SnapshotConsumerStack, SnapshotCopyStack" in lines
    assert re.fullmatch(
        rf"{shown} = arn:aws:docdb-elastic:us-east-1:{ACCOUNT}:cluster-snapshot/[0-9a-f-]+", lines[-2]
    )
    assert lines[-1] == f"{endpoint} = orders-staging-{ACCOUNT}.us-east-1.docdb-elastic.amazonaws.com"
    report = json.loads((tmp_path / "report.json").read_text())
    requests = [(entry["logical_id"][:5], entry["request_type"]) for entry in report["customResources"]]
    # The copy is made before the cluster restored from it, and deleted after it.
    assert requests == [("Order", "Create"), ("Stagi", "Create"), ("Stagi", "Delete"), ("Order", "Delete")]


def test_demo_keeps_running_with_its_stacks_when_asked(example_assembly: Path, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "copied_snapshot_local_cloud", "demo", str(example_assembly), "--seed-sources",
        "--keep-running", "--time-scale", "240", "--state-dir", str(tmp_path),
    ]  # fmt: skip
    demo = until_serving(command)
    assert json.loads((tmp_path / "stacks" / "SnapshotConsumerStack.json").read_text())["status"] == (
        "CREATE_COMPLETE"
    )
    demo.terminate()
    assert demo.wait(timeout=30) == 0


USERS_ACCOUNT, USERS_REGION = "111122223333", "eu-west-1"
USERS_SOURCE = f"arn:aws:docdb-elastic:{USERS_REGION}:{USERS_ACCOUNT}:cluster-snapshot/users-source"


@pytest.fixture(scope="module")
def users_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's own app: one copy, in account 111122223333 and eu-west-1."""
    app = App(outdir=str(tmp_path_factory.mktemp("users-app") / "cdk.out"))
    stack = Stack(app, "UsersStack", env=Environment(account=USERS_ACCOUNT, region=USERS_REGION))
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=USERS_SOURCE)
    CfnOutput(stack, "CopyArn", value=copy.snapshot_arn)
    return Path(app.synth().directory)


def test_demo_deploys_and_destroys_a_users_app_in_its_own_account(users_app: Path, tmp_path: Path) -> None:
    account, region = USERS_ACCOUNT, USERS_REGION
    shown = "UsersStack.CopyArn"
    state_dir = tmp_path / "state"
    run = local_cloud(
        state_dir, "demo", str(users_app), "--seed-sources", "--show", shown, "--time-scale", "240"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "destroyed: UsersStack" in run.stdout
    assert re.fullmatch(
        rf"{shown} = arn:aws:docdb-elastic:{region}:{account}:cluster-snapshot/[0-9a-f-]+",
        run.stdout.splitlines()[-1],
    )


def test_the_real_cdk_cli_deploys_a_users_app_in_its_own_account_through_the_cdk_command(
    users_app: Path, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    command = [
        sys.executable, "-m", "copied_snapshot_local_cloud", "serve", "--state-dir", str(state_dir),
        "--time-scale", "240", "--seed-snapshot", USERS_SOURCE, "--order", "hostile",
    ]  # fmt: skip
    server = until_serving(command)

    def cdk(*arguments: str) -> str:
        command = [
            sys.executable, "-m", "copied_snapshot_local_cloud", "cdk", "--state-dir", str(state_dir),
            "--account", USERS_ACCOUNT, "--region", USERS_REGION, "--cdk", str(CDK), *arguments,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout + done.stderr

    try:
        assert "bootstrapped" in cdk("bootstrap", f"aws://{USERS_ACCOUNT}/{USERS_REGION}")
        deployed = cdk("deploy", "--all", "--require-approval", "never", "--app", str(users_app))
        assert re.search(
            rf"UsersStack\.CopyArn = arn:aws:docdb-elastic:{USERS_REGION}:{USERS_ACCOUNT}:cluster-snapshot/",
            deployed,
        ), deployed[-4000:]
        assert "UsersStack: destroyed" in cdk("destroy", "--all", "--force", "--app", str(users_app))
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_the_cdk_command_needs_a_serving_cloud(tmp_path: Path) -> None:
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "copied_snapshot_local_cloud",
            "cdk",
            "--state-dir",
            str(tmp_path),
            "--cdk",
            str(CDK),
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "no local cloud is serving" in refused.stderr


def test_a_demo_with_the_cli_exits_non_zero_with_the_clis_error_when_a_deploy_fails(
    example_assembly: Path, tmp_path: Path
) -> None:
    # Nothing seeded: the copy's source snapshot does not exist, so its Create fails and the stack rolls back.
    run = local_cloud(
        tmp_path, "demo", str(example_assembly), "--cli", "--cdk", str(CDK), "--stacks", "SnapshotCopyStack",
        "--time-scale", "240",
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-4000:]
    assert "Environment aws://123456789012/us-east-1 bootstrapped" in output
    assert "CREATE_FAILED" in output and "orders-automated-source" in output, output[-4000:]
    assert "❌  `cdk deploy` failed" in run.stdout
    assert "$ cdk destroy" not in run.stdout


def test_a_rerun_on_the_stacks_of_a_killed_run_says_to_start_fresh_and_fresh_starts(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    StackStore(state_dir).save(
        StackState("LeftBehind", "stack-id", ACCOUNT, REGION, "CREATE_IN_PROGRESS", {"Resources": {}})
    )
    refused = local_cloud(state_dir, "serve")
    assert refused.returncode == 1
    assert "stacks LeftBehind (CREATE_IN_PROGRESS) were stored without the services' state" in refused.stderr
    assert "--fresh" in refused.stderr
    command = [
        sys.executable,
        "-m",
        "copied_snapshot_local_cloud",
        "serve",
        "--fresh",
        "--state-dir",
        str(state_dir),
    ]
    server = until_serving(command)
    try:
        assert StackStore(state_dir).all() == []
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
