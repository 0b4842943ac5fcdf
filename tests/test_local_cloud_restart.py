"""A local cloud restarted on the state folder of an earlier run: the services' state is saved with the stacks
and loaded by the next start, and what cannot be recovered is refused at start, naming --fresh."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from local_cloud.cloud import LocalCloud
from local_cloud.cloudformation.order import Order
from local_cloud.cloudformation.store import StackState
from local_cloud.docdb_elastic.clock import ManualClock
from local_cloud.docdb_elastic.identity import Caller
from local_cloud.docdb_elastic.state import ACTIVE, COPYING, Backend, Durations
from local_cloud.persistence import SERVICES_FILE, Saved, problems, stack_digest

ACCOUNT = "123456789012"
REGION = "us-east-1"
CALLER = Caller(ACCOUNT, REGION, ACCOUNT)


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
    return Saved(clock=0.0, stacks=digests, docdb={}, moto_digest="", functions=functions or [])


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


# -- a local cloud started again on its state folder ---------------------------------------------------------

SOURCE = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/restart-source"
FAST = Durations(cluster=120, snapshot=120, copy=240, delete=120)  # simulated seconds: 0.5 to 1 s at 240
_numbers = itertools.count()


def new_cloud(state_dir: Path, **options: Any) -> LocalCloud:
    return LocalCloud(state_dir, time_scale=240.0, durations=FAST, order=Order.hostile(), **options)


def test_moto_and_the_service_are_as_the_last_run_left_them_and_the_clock_goes_on(tmp_path: Path) -> None:
    with new_cloud(tmp_path) as first:
        first.seed_source_snapshot(SOURCE)
        key = first.client("kms", REGION).create_key(Description="kept")["KeyMetadata"]["KeyId"]
        ssm = first.client("ssm", REGION)
        ssm.put_parameter(Name="/kept", Value="1", Type="String", Tags=[{"Key": "team", "Value": "data"}])
        events = first.client("events", REGION)
        events.put_rule(Name="kept", ScheduleExpression="rate(1 minute)", State="DISABLED")
        vpc = first.client("ec2", REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        access_key = first.access_key(ACCOUNT)
        services = first.docdb.backend.state()
    ended = json.loads((tmp_path / SERVICES_FILE).read_text())["clock"]

    with new_cloud(tmp_path) as second:
        assert second.clock.now() >= ended
        assert second.docdb.backend.state() == {
            **services,
            "snapshots": second.docdb.backend.state()["snapshots"],
        }
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
