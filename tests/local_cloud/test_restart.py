"""A local cloud restarted on the state folder of an earlier run: the services' state is saved with the stacks
and loaded by the next start, and what cannot be recovered is refused at start, naming --fresh."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack

from copied_snapshot import CopiedSnapshot
from copied_snapshot_local_cloud.cloud import LocalCloud, StaleState
from copied_snapshot_local_cloud.cloudformation.errors import DeployFailed
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.store import StackState, StackStore
from copied_snapshot_local_cloud.docdb_elastic.clock import ManualClock
from copied_snapshot_local_cloud.docdb_elastic.identity import Caller
from copied_snapshot_local_cloud.docdb_elastic.state import ACTIVE, COPYING, Backend, Durations
from copied_snapshot_local_cloud.persistence import (
    MOTO_FILE,
    SERVICES_FILE,
    Saved,
    moto_digest,
    moto_version,
    problems,
    read,
    stack_digest,
    write,
)
from tests.support.apps import cdk_json_context
from tests.support.constants import ACCOUNT, REGION, snapshot_arn

CALLER = Caller(ACCOUNT, REGION)


def test_the_docdb_elastic_state_survives_json_with_its_work_in_flight_and_its_next_ids() -> None:
    clock = ManualClock()
    before = Backend(clock=clock, durations=Durations(copy=60.0), seed=3)
    source = before.seed_snapshot(account=ACCOUNT, region=REGION, name="source", tags={"team": "orders"})
    copied = before.copy_snapshot(CALLER, source_arn=source.arn, target_name="copy")
    saved = json.loads(json.dumps(before.to_json()))

    after = Backend(clock=clock, durations=Durations(copy=60.0), seed=3)
    after.from_json(saved)
    assert after.state() == before.state()
    assert after.snapshot(CALLER, copied.arn).status(clock.now()) == COPYING
    clock.advance(60.0)
    assert after.snapshot(CALLER, copied.arn).status(clock.now()) == ACTIVE
    # The next resource gets the ARN the saved service would have given it, not one it already gave.
    assert (
        after.copy_snapshot(CALLER, source_arn=source.arn, target_name="again").arn
        == before.copy_snapshot(CALLER, source_arn=source.arn, target_name="again").arn
    )


# -- what a restart can continue from ------------------------------------------------------------------------


def stored(name: str, status: str = "CREATE_COMPLETE") -> StackState:
    return StackState(name, f"id-{name}", ACCOUNT, REGION, status, {"Resources": {}})


def saved_with(*stacks: StackState, functions: list[dict[str, Any]] | None = None) -> Saved:
    digests = {stack.stack_name: stack_digest(stack) for stack in stacks}
    return Saved(
        clock=0.0,
        stacks=digests,
        docdb={},
        moto_digest="",
        moto_version=moto_version(),
        functions=functions or [],
    )


def test_stacks_saved_with_the_services_at_a_safe_point_can_be_continued_from() -> None:
    assert problems([], None) == []
    assert (
        problems(
            [stored("Done"), stored("Back", "UPDATE_ROLLBACK_COMPLETE")],
            saved_with(stored("Done"), stored("Back", "UPDATE_ROLLBACK_COMPLETE")),
        )
        == []
    )


def test_stacks_without_saved_services_or_changed_since_or_interrupted_cannot() -> None:
    assert problems([stored("Left")], None) == [
        "stacks Left (CREATE_COMPLETE) were stored without the services' state (the run that made them was "
        "killed, or kept no state)"
    ]
    older = saved_with(stored("Moved"), stored("Gone"))
    found = problems([stored("Moved", "UPDATE_COMPLETE"), stored("Busy", "CREATE_IN_PROGRESS")], older)
    assert found == [
        "Moved (UPDATE_COMPLETE) changed after the services' state was saved (the run was killed during an "
        "operation)",
        "Busy was interrupted while CREATE_IN_PROGRESS: what its unfinished resources made is not known",
        "Gone was removed after the services' state was saved (the run was killed during its destroy)",
    ]


def test_a_saved_function_whose_code_is_gone_cannot_be_continued_from(tmp_path: Path) -> None:
    function = {"name": "Handler", "code_dir": str(tmp_path / "asset.gone")}
    assert problems([stored("Done")], saved_with(stored("Done"), functions=[function])) == [
        f"function Handler's code {tmp_path / 'asset.gone'} is gone (its assembly was removed)"
    ]


def test_a_state_saved_by_another_moto_cannot_be_continued_from_even_without_stacks() -> None:
    older = replace(saved_with(), moto_version="0.0.1")
    assert problems([], older) == [
        f"the services' state was saved with moto 0.0.1, this is moto {moto_version()}: its pickled "
        "backends cannot be read back"
    ]


def test_a_pickle_written_without_its_services_file_or_an_unreadable_file_is_no_saved_state(
    tmp_path: Path,
) -> None:
    saved = replace(saved_with(stored("Done")), moto_digest=moto_digest(b"backends"))
    write(tmp_path, saved, b"backends")
    assert read(tmp_path) == (saved, b"backends")
    (tmp_path / MOTO_FILE).write_bytes(b"backends of a later save")  # killed before services.json followed
    assert read(tmp_path) is None
    (tmp_path / SERVICES_FILE).write_text("{")
    assert read(tmp_path) is None


# -- a local cloud started again on its state folder ---------------------------------------------------------

SOURCE = snapshot_arn("restart-source")
FAST = Durations(cluster=120, snapshot=120, copy=240, delete=120)  # simulated seconds: 0.5 to 1 s at 240


def new_cloud(state_dir: Path, **options: Any) -> LocalCloud:
    return LocalCloud(state_dir, time_scale=240.0, durations=FAST, order=Order.hostile(), **options)


def without_statuses(state: dict[str, Any]) -> dict[str, Any]:
    """The service's state without what time changes: the cluster seeded first may have become ACTIVE."""
    return {
        **state,
        "clusters": [{k: v for k, v in item.items() if k != "status"} for item in state["clusters"]],
        "snapshots": [{k: v for k, v in item.items() if k != "status"} for item in state["snapshots"]],
    }


def test_moto_and_the_service_are_as_the_last_run_left_them_and_the_clock_goes_on(tmp_path: Path) -> None:
    with new_cloud(tmp_path) as first:
        first.seed_source_snapshot(SOURCE)
        key = first.client("kms", REGION).create_key(Description="kept")["KeyMetadata"]["KeyId"]
        ssm = first.client("ssm", REGION)
        ssm.put_parameter(Name="/kept", Value="1", Type="String", Tags=[{"Key": "team", "Value": "data"}])
        events = first.client("events", REGION)
        events.put_rule(Name="kept", ScheduleExpression="rate(1 minute)", State="DISABLED")
        vpc = first.client("ec2", REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        first.client("s3", REGION).create_bucket(Bucket="staging")
        first.client("s3", REGION).put_object(Bucket="staging", Key="asset.zip", Body=b"published")
        first.client("ecr", REGION).create_repository(repositoryName="assets")
        access_key = first.access_key(ACCOUNT)
        services = first.docdb.backend.state()
    ended = json.loads((tmp_path / SERVICES_FILE).read_text())["clock"]

    with new_cloud(tmp_path) as second:
        assert second.clock.now() >= ended
        assert without_statuses(second.docdb.backend.state()) == without_statuses(services)
        assert [s["snapshotArn"] for s in second.docdb.backend.state()["snapshots"]] == [SOURCE]
        assert second.seed_source_snapshot(SOURCE) == SOURCE  # a rerun's --seed-snapshot finds it kept
        assert [s["snapshotArn"] for s in second.docdb.backend.state()["snapshots"]] == [SOURCE]
        assert second.access_key(ACCOUNT) == access_key
        assert second.client("kms", REGION).describe_key(KeyId=key)["KeyMetadata"]["Description"] == "kept"
        ssm = second.client("ssm", REGION)
        assert ssm.get_parameter(Name="/kept")["Parameter"]["Value"] == "1"
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId="/kept", Tags=[{"Key": "a", "Value": "b"}]
        )
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/kept")["TagList"]
        assert {tag["Key"] for tag in tags} == {"team", "a"}
        assert [rule["Name"] for rule in second.client("events", REGION).list_rules()["Rules"]] == ["kept"]
        assert second.client("ec2", REGION).describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["VpcId"] == vpc
        # What `cdk bootstrap` made and `cdk deploy` published: the next run's CLI finds it.
        assert second.client("s3", REGION).get_object(Bucket="staging", Key="asset.zip")["Body"].read() == (
            b"published"
        )
        repositories = second.client("ecr", REGION).describe_repositories()["repositories"]
        assert [repository["repositoryName"] for repository in repositories] == ["assets"]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cdk.out for the module: its stacks share the bundled handler's asset (bundled once)."""
    return tmp_path_factory.mktemp("cdk") / "cdk.out"


def synth(outdir: Path, stack_name: str, source: str = SOURCE, **options: Any) -> Path:
    """A one-stack app with a copy of `source`, synthesized with the real bundling and cdk.json's context."""
    app = App(outdir=str(outdir), context=cdk_json_context())
    stack = Stack(app, stack_name, env=Environment(account=ACCOUNT, region=REGION))
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=source, **options)
    return Path(app.synth().directory)


def copies(cloud: LocalCloud) -> list[str]:
    return [
        item["snapshotArn"]
        for item in cloud.docdb.backend.state()["snapshots"]
        if item["snapshotArn"] != SOURCE
    ]


def copy_arn(stack: StackState) -> str:
    return next(resource.physical_id for name, resource in stack.resources.items() if name.startswith("Copy"))


def rules(cloud: LocalCloud) -> list[str]:
    return [rule["Name"] for rule in cloud.client("events", REGION).list_rules()["Rules"]]


def test_a_restarted_cloud_destroys_what_the_last_run_deployed_and_leaves_nothing(
    tmp_path: Path, outdir: Path
) -> None:
    assembly = synth(outdir, "Restarted")
    with new_cloud(tmp_path) as first:
        first.seed_source_snapshot(SOURCE)
        (deployed,) = first.deploy(assembly)
        assert copies(first) == [copy_arn(deployed)]

    with new_cloud(tmp_path) as second:
        assert rules(second) == []  # saved once the handler had removed its polling rule
        assert second.destroy(assembly) == ["Restarted"]
        assert copies(second) == []
        assert rules(second) == []
        assert second.store.all() == []
        requests = [(t.request_type, t.status) for t in second.custom.timelines]
        assert requests == [("Delete", "SUCCESS")]


def test_a_rerun_after_a_failed_deploy_deploys_without_fresh(tmp_path: Path, outdir: Path) -> None:
    missing = SOURCE.replace("restart-source", "restart-missing")
    with new_cloud(tmp_path) as first:
        first.seed_source_snapshot(SOURCE)
        (deployed,) = first.deploy(synth(outdir, "Rerun", target_snapshot_name="rerun-first"))
        with pytest.raises(DeployFailed, match=f"source snapshot {missing} does not exist"):
            first.deploy(synth(outdir, "Rerun", source=missing, target_snapshot_name="rerun-second"))
    stack = StackStore(tmp_path).load("Rerun")
    assert stack is not None
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"

    with new_cloud(tmp_path) as second:
        (updated,) = second.deploy(synth(outdir, "Rerun", target_snapshot_name="rerun-second"))
        assert updated.status == "UPDATE_COMPLETE"
        assert copies(second) == [copy_arn(updated)] != [copy_arn(deployed)]
        assert second.destroy(outdir) == ["Rerun"]
        assert copies(second) == []
        assert rules(second) == []


def test_stacks_changed_after_the_services_were_saved_are_refused_at_start_naming_fresh(
    tmp_path: Path,
) -> None:
    with new_cloud(tmp_path):
        pass
    StackStore(tmp_path).save(stored("Later"))
    with pytest.raises(StaleState, match=r"Later \(CREATE_COMPLETE\) changed after .* --fresh"):
        new_cloud(tmp_path).start()
    with new_cloud(tmp_path, fresh=True) as fresh:
        assert fresh.store.all() == []


# Ctrl-C as a terminal's foreground job gets it. A suite started in the background (`pytest ... &` from a
# script) ignores SIGINT (POSIX Shell Command Language, "Asynchronous Lists") and its children inherit
# that, so the demo starts with Python's usual handler.
AS_FROM_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('copied_snapshot_local_cloud', run_name='__main__', alter_sys=True)"
)


def interrupted_demo(state_dir: Path, assembly: Path, signal_number: int) -> int:
    """A `demo` run stopped by a signal while its copy is being created; answers its exit code."""
    command = [
        sys.executable, "-c", AS_FROM_A_TERMINAL, "demo", str(assembly),
        "--state-dir", str(state_dir), "--time-scale", "240", "--seed-sources",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "CREATE_IN_PROGRESS" in line and "Custom::CopiedSnapshot" in line:
            process.send_signal(signal_number)
            break
    process.stdout.read()
    return process.wait(timeout=60)


def serve_once(state_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "copied_snapshot_local_cloud", "serve", "--state-dir", str(state_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("signal_number", "code", "problem"),
    [
        (signal.SIGINT, 130, "Interrupted was interrupted while CREATE_IN_PROGRESS"),
        (signal.SIGKILL, -signal.SIGKILL, "stacks Interrupted (CREATE_IN_PROGRESS) were stored without"),
    ],
)
def test_a_run_stopped_during_a_deploy_is_refused_at_the_next_start_naming_fresh(
    tmp_path: Path, outdir: Path, signal_number: int, code: int, problem: str
) -> None:
    assembly = synth(outdir, "Interrupted")
    assert interrupted_demo(tmp_path, assembly, signal_number) == code
    refused = serve_once(tmp_path)
    assert refused.returncode == 1
    assert problem in refused.stderr
    assert "Start again with --fresh" in refused.stderr
