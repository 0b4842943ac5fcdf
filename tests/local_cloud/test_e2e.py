"""End to end: synthesized apps with the real bundled handler, deployed to the local cloud.

CloudFormation's events go to the bundled handler in Lambda worker processes, crhelper's polling rules fire
from moto's EventBridge, responses come back over HTTPS; the copy itself is made by the local docdb-elastic
service. One cloud serves the module, in the hostile order (resources nothing declares a need for are created
after and deleted before the custom resources), so a missing DependsOn fails a test; each test deploys its
own stacks under its own names and runs alone (`pytest -k`) as well as with the others.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, Environment, RemovalPolicy, Stack

import app as example_app
from copied_snapshot import CopiedSnapshot
from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import DeployFailed
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.docdb_elastic.state import Durations
from tests.support.apps import cdk_json_context
from tests.support.constants import ACCOUNT, REGION, snapshot_arn

SOURCE = snapshot_arn("e2e-source")
FAST = Durations(cluster=120, snapshot=120, copy=240, delete=120)  # simulated seconds: 0.5 to 1 s at 240
_numbers = itertools.count()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("cloud")
    with LocalCloud(state_dir, time_scale=240.0, durations=FAST, order=Order.hostile()) as running:
        running.seed_source_snapshot(example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, tags={"team": "orders"})
        running.seed_source_snapshot(SOURCE, encrypted=False, tags={"team": "orders"})
        yield running


Build = Callable[[Stack], None]


def synth(tmp_path: Path, stack_name: str, build: Build) -> Path:
    """A one-stack app synthesized with the real bundling and cdk.json's context, as `cdk synth` would."""
    app = App(outdir=str(tmp_path / f"cdk.out.{next(_numbers)}"), context=cdk_json_context())
    stack = Stack(app, stack_name, env=Environment(account=ACCOUNT, region=REGION))
    build(stack)
    return Path(app.synth().directory)


def copy_of(source: str = SOURCE, **options: Any) -> Build:
    def build(stack: Stack) -> None:
        CopiedSnapshot(stack, "Copy", source_snapshot_arn=source, **options)

    return build


def snapshot(cloud: LocalCloud, arn: str) -> dict[str, Any] | None:
    found = [item for item in cloud.docdb.backend.state()["snapshots"] if item["snapshotArn"] == arn]
    return found[0] if found else None


def copy_arn(cloud: LocalCloud, stack_name: str) -> str:
    state = cloud.store.load(stack_name)
    assert state is not None
    return state.resources[next(name for name in state.resources if name.startswith("Copy"))].physical_id


def function_logs(cloud: LocalCloud) -> str:
    return "".join(file.read_text() for file in (cloud.state_dir / "logs").glob("*.log"))


def test_example_app_deploys_the_copy_and_the_consumer_sees_its_arn(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    application = App(outdir=str(tmp_path / "cdk.out"), context=cdk_json_context())
    example_app.build(application)
    assembly = Path(application.synth().directory)
    copy_stack, consumer = cloud.deploy(assembly)
    arn = copy_stack.outputs["CopyArn"]
    copied = snapshot(cloud, arn)
    assert copied is not None
    assert copied["status"] == "ACTIVE"
    assert arn.startswith(f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/")
    key = cloud.client("kms", REGION).describe_key(KeyId=copied["kmsKeyId"])["KeyMetadata"]
    assert key["Arn"] == copied["kmsKeyId"]
    assert copied["tags"]["team"] == "orders"  # copy_tags brought the source's tags
    assert copied["tags"]["purpose"] == "long-term-retention"
    parameter = cloud.client("ssm", REGION).get_parameter(Name="/orders/restore/snapshot-arn")["Parameter"]
    assert consumer.outputs["RestoreSnapshotArn"] == parameter["Value"] == arn
    with pytest.raises(DeployFailed, match="in use by SnapshotConsumerStack"):
        cloud.engine.destroy("SnapshotCopyStack")
    assert cloud.destroy(assembly) == ["SnapshotConsumerStack", "SnapshotCopyStack"]
    assert snapshot(cloud, arn) is None
    events = [(event.stack, event.logical_id, event.status) for event in cloud.engine.events]
    assert ("SnapshotCopyStack", "SnapshotCopyStack", "DELETE_COMPLETE") in events


@pytest.mark.parametrize("seed", [1, 2])
def test_example_app_deploys_and_destroys_in_a_seeded_order(tmp_path: Path, seed: int) -> None:
    application = App(outdir=str(tmp_path / "cdk.out"), context=cdk_json_context())
    example_app.build(application)
    assembly = Path(application.synth().directory)
    order = Order.seeded(seed)
    with LocalCloud(tmp_path / "cloud", time_scale=240.0, durations=FAST, order=order) as seeded:
        seeded.seed_source_snapshot(example_app.DEFAULT_SOURCE_SNAPSHOT_ARN)
        copy_stack, _ = seeded.deploy(assembly)
        arn = copy_stack.outputs["CopyArn"]
        assert seeded.destroy(assembly) == ["SnapshotConsumerStack", "SnapshotCopyStack"]
        assert snapshot(seeded, arn) is None


def test_tags_are_updated_in_place(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.deploy(synth(tmp_path, "E2eTags", copy_of(tags={"team": "data", "tier": "gold"})))
    arn = copy_arn(cloud, "E2eTags")
    cloud.deploy(synth(tmp_path, "E2eTags", copy_of(tags={"team": "data", "stage": "dr"})))
    assert copy_arn(cloud, "E2eTags") == arn
    copied = snapshot(cloud, arn)
    assert copied is not None
    assert {
        key: value for key, value in copied["tags"].items() if not key.startswith("copied-snapshot:")
    } == {
        "team": "data",
        "stage": "dr",
    }
    timelines = [t for t in cloud.custom.timelines if t.stack == "E2eTags"]
    assert [(t.request_type, t.status) for t in timelines] == [("Create", "SUCCESS"), ("Update", "SUCCESS")]
    cloud.engine.destroy("E2eTags")


def test_a_new_name_replaces_the_copy_and_the_old_one_is_deleted(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.deploy(synth(tmp_path, "E2eReplace", copy_of(target_snapshot_name="e2e-first")))
    first = copy_arn(cloud, "E2eReplace")
    cloud.deploy(synth(tmp_path, "E2eReplace", copy_of(target_snapshot_name="e2e-second")))
    second = copy_arn(cloud, "E2eReplace")
    assert second != first
    assert snapshot(cloud, first) is None
    replacement = snapshot(cloud, second)
    assert replacement is not None
    assert (replacement["snapshotName"], replacement["status"]) == ("e2e-second", "ACTIVE")
    requests = [(t.request_type, t.physical_id) for t in cloud.custom.timelines if t.stack == "E2eReplace"]
    assert requests == [("Create", first), ("Update", second), ("Delete", first)]
    cloud.engine.destroy("E2eReplace")
    assert snapshot(cloud, second) is None


def test_retain_keeps_the_copy_when_the_stack_is_destroyed(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.deploy(synth(tmp_path, "E2eRetain", copy_of(removal_policy=RemovalPolicy.RETAIN)))
    arn = copy_arn(cloud, "E2eRetain")
    assert cloud.engine.destroy("E2eRetain")
    kept = snapshot(cloud, arn)
    assert kept is not None
    assert kept["status"] == "ACTIVE"
    assert ("E2eRetain", "DELETE_SKIPPED") in [(e.stack, e.status) for e in cloud.engine.events]


def test_a_failing_create_rolls_back_and_leaves_no_copy(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.docdb.faults.end_copies("INACCESSIBLE_ENCRYPTION_CREDS", name="e2e-doomed", times=1)
    assembly = synth(tmp_path, "E2eDoomed", copy_of(target_snapshot_name="e2e-doomed"))
    with pytest.raises(DeployFailed, match="INACCESSIBLE_ENCRYPTION_CREDS"):
        cloud.deploy(assembly)
    assert cloud.store.load("E2eDoomed") is None
    names = [item["snapshotName"] for item in cloud.docdb.backend.state()["snapshots"]]
    assert "e2e-doomed" not in names
    requests = [(t.request_type, t.status) for t in cloud.custom.timelines if t.stack == "E2eDoomed"]
    assert requests == [("Create", "FAILED"), ("Delete", "SUCCESS")]
    statuses = [
        e.status for e in cloud.engine.events if e.stack == "E2eDoomed" and e.logical_id == "E2eDoomed"
    ]
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


def test_a_create_failing_before_any_copy_is_deleted_by_its_placeholder_with_no_call(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    missing = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/does-not-exist"
    deletes_before = len(cloud.docdb.calls.of("DeleteClusterSnapshot"))
    with pytest.raises(DeployFailed, match=f"source snapshot {missing} does not exist"):
        cloud.deploy(synth(tmp_path, "E2eMissing", copy_of(source=missing)))
    create, delete = [t for t in cloud.custom.timelines if t.stack == "E2eMissing"]
    assert (create.request_type, create.status) == ("Create", "FAILED")
    assert (delete.request_type, delete.status) == ("Delete", "SUCCESS")
    assert not delete.physical_id.startswith("arn:")
    assert len(cloud.docdb.calls.of("DeleteClusterSnapshot")) == deletes_before


def test_a_copy_is_created_and_destroyed_in_the_hostile_order(cloud: LocalCloud, tmp_path: Path) -> None:
    """The custom resource's polls need the function's invoke permission while it creates and deletes: made
    last and deleted first here, a copy that does not depend on it never hears its poll and times out."""
    cloud.deploy(synth(tmp_path, "E2eHostile", copy_of()))
    arn = copy_arn(cloud, "E2eHostile")
    assert cloud.engine.destroy("E2eHostile")
    assert snapshot(cloud, arn) is None
    requests = [(t.request_type, t.status) for t in cloud.custom.timelines if t.stack == "E2eHostile"]
    assert requests == [("Create", "SUCCESS"), ("Delete", "SUCCESS")]


def test_no_function_log_holds_a_response_url_or_its_signature(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.deploy(synth(tmp_path, "E2eLogs", copy_of()))
    cloud.engine.destroy("E2eLogs")
    logs = function_logs(cloud)
    assert "START RequestId" in logs
    assert "cloudformation-custom-resource-response" not in logs
    assert not re.search(r"X-Amz-Signature", logs)


def test_every_custom_resource_request_was_answered_and_timed(cloud: LocalCloud, tmp_path: Path) -> None:
    cloud.deploy(synth(tmp_path, "E2eTimed", copy_of(tags={"tier": "gold"})))
    cloud.deploy(synth(tmp_path, "E2eTimed", copy_of(tags={"tier": "silver"})))
    cloud.engine.destroy("E2eTimed")
    report = cloud.report()
    timelines = [item for item in report.timelines if item.stack == "E2eTimed"]
    assert [item.request_type for item in timelines] == ["Create", "Update", "Delete"]
    assert all(item.response_received is not None for item in timelines)
    create, update, _ = timelines
    assert create.status == "SUCCESS"
    assert create.copy_active is not None
    assert update.copy_active is None  # a tag update makes no copy
    assert create.event_sent <= create.copy_active <= (create.response_received or 0)
    assert report.api_calls["CopyClusterSnapshot"] >= 1
    assert {entry["trigger"] for entry in report.invocations} == {"cloudformation", "events"}


def test_a_ten_minute_copy_deploys_in_wall_seconds_on_the_simulated_clock(tmp_path: Path) -> None:
    """Every part waits on one clock: the service's copy, the polling rule, the ServiceTimeout wait. With the
    simulated clock the idle time is skipped and the report reads simulated seconds."""
    durations = Durations(cluster=0, snapshot=0, copy=600, delete=60)
    assembly = synth(tmp_path, "E2eSimulated", copy_of())
    with LocalCloud(
        tmp_path / "cloud", time_scale=1.0, simulated=True, durations=durations, order=Order.hostile()
    ) as simulated:
        simulated.seed_source_snapshot(SOURCE, encrypted=False)
        started = time.monotonic()
        simulated.deploy(assembly)
        assert simulated.engine.destroy("E2eSimulated")
        wall = time.monotonic() - started
        create, delete = simulated.report().timelines
        invocations = sorted(simulated.runner.invocations, key=lambda record: record.started)
    assert create.copy_active is not None and create.seconds is not None
    assert 600 <= create.copy_active - create.event_sent <= 610  # the copy starts at the first invocation
    # In-process asks every 5 s within windows that end 15 s before the rule's next firing (whose poll may
    # start up to 5 s late here): an answer within 20 s of ACTIVE or of the copy being gone, not a minute.
    assert create.copy_active <= (create.response_received or 0) <= create.copy_active + 20
    assert delete.copy_gone is not None and delete.response_received is not None
    assert delete.copy_gone <= delete.response_received <= delete.copy_gone + 20
    assert delete.copy_gone - delete.event_sent >= 60  # the service deletes in 60 s
    # One copy, one request at a time: no invocation starts before the one before it has ended (each
    # window ends before the rule's next firing), and there were polls, not only first invocations.
    assert len(invocations) > 4
    assert all(later.started >= earlier.ended for earlier, later in itertools.pairwise(invocations))
    assert wall < 60


def test_a_users_app_in_another_account_and_region_deploys_and_destroys(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """Every service acts in the stack's account: moto's IAM, KMS, SSM, Lambda and EventBridge (the access
    key of 12 digits is the account), the function's own calls, and docdb-elastic."""
    account, region = "111122223333", "eu-west-1"
    source = cloud.seed_source_snapshot(
        f"arn:aws:docdb-elastic:{region}:{account}:cluster-snapshot/users-source"
    )
    app = App(outdir=str(tmp_path / "cdk.out"), context=cdk_json_context())
    stack = Stack(app, "E2eUsersApp", env=Environment(account=account, region=region))
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=source)
    CfnOutput(stack, "CopyArn", value=copy.snapshot_arn)
    assembly = Path(app.synth().directory)
    (deployed,) = cloud.deploy(assembly)
    arn = deployed.outputs["CopyArn"]
    assert arn.startswith(f"arn:aws:docdb-elastic:{region}:{account}:cluster-snapshot/")
    copied = snapshot(cloud, arn)
    assert copied is not None and copied["status"] == "ACTIVE"
    functions = cloud.client("lambda", region, account).list_functions()["Functions"]
    assert functions and all(f":{account}:" in function["FunctionArn"] for function in functions)
    assert cloud.client("lambda", region).list_functions()["Functions"] == []  # none in the cloud's account
    assert cloud.destroy(assembly) == ["E2eUsersApp"]
    assert snapshot(cloud, arn) is None
    assert cloud.client("lambda", region, account).list_functions()["Functions"] == []
