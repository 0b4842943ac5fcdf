"""The local CloudFormation engine's rules, with recording providers instead of real resources."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from copied_snapshot_local_cloud.assembly import AssemblyError, Stack
from copied_snapshot_local_cloud.clock import Clock, ScaledClock, SimulatedClock
from copied_snapshot_local_cloud.cloudformation import intrinsics
from copied_snapshot_local_cloud.cloudformation.custom import CustomResource, as_cloudformation_sends
from copied_snapshot_local_cloud.cloudformation.engine import NO_CHANGES, Engine
from copied_snapshot_local_cloud.cloudformation.errors import (
    DeployFailed,
    DeploymentError,
    ResourceFailed,
    TemplateError,
)
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.providers import Change, LambdaPermission, Outcome
from copied_snapshot_local_cloud.cloudformation.store import StackState, StackStore
from copied_snapshot_local_cloud.scheduler import EVENTS_PRINCIPAL, allowed_by

THING = "Test::Thing"
USER = "Custom::User"  # a custom resource: runs code that may need what it does not declare


class Recorder:
    """A provider that records what it is asked, and fails once where told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_on: set[tuple[str, str]] = set()
        self.versions: dict[str, int] = {}
        self.during: dict[tuple[str, str], Callable[[Change], object]] = {}  # runs while the call is going on
        self._lock = threading.Lock()

    def _record(self, action: str, change: Change) -> None:
        with self._lock:
            self.calls.append((action, change.logical_id, dict(change.properties)))
        if (action, change.logical_id) in self.during:
            self.during[(action, change.logical_id)](change)
        if (action, change.logical_id) in self.fail_on:
            self.fail_on.discard((action, change.logical_id))
            raise ResourceFailed(f"{change.logical_id} refused to {action}")

    def create(self, change: Change) -> Outcome:
        self._record("create", change)
        return Outcome(f"{change.logical_id}-1", {"Name": change.properties.get("Name", "")})

    def update(self, change: Change) -> Outcome:
        self._record("update", change)
        assert change.physical_id is not None
        if change.properties.get("Replace") != (change.old_properties or {}).get("Replace"):
            number = self.versions[change.logical_id] = self.versions.get(change.logical_id, 1) + 1
            return Outcome(f"{change.logical_id}-{number}", {"Name": change.properties.get("Name", "")})
        return Outcome(change.physical_id, {"Name": change.properties.get("Name", "")})

    def delete(self, change: Change) -> None:
        self._record("delete", change)

    def actions(self) -> list[tuple[str, str]]:
        return [(action, name) for action, name, _ in self.calls]


class NoCloud:
    runner: Any = None
    clock: Clock = ScaledClock(100.0)  # ServiceTimeouts of simulated seconds pass 100 times faster

    def client(self, service: str, region: str, account: str | None = None) -> Any:
        raise AssertionError("no AWS client is needed here")

    def function_environment(
        self, region: str, variables: Mapping[str, str], account: str | None = None
    ) -> dict[str, str]:
        return dict(variables)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def new_engine(tmp_path: Path, recorder: Recorder, order: Order, custom: Any = None) -> Engine:
    return Engine(
        NoCloud(), StackStore(tmp_path), providers={THING: recorder}, custom=custom or recorder, order=order
    )


@pytest.fixture
def engine(tmp_path: Path, recorder: Recorder) -> Engine:
    """One resource at a time, so that tests can read the order of calls."""
    return new_engine(tmp_path, recorder, Order.one_at_a_time())


def stack(resources: dict[str, Any], name: str = "Test", **template: Any) -> Stack:
    return Stack(name, name, {"Resources": resources, **template}, "123456789012", "us-east-1", ())


def thing(**properties: Any) -> dict[str, Any]:
    return {"Type": THING, "Properties": properties}


def test_resources_are_made_after_what_they_refer_to(engine: Engine, recorder: Recorder) -> None:
    engine.deploy(
        stack(
            {
                "C": thing(Name={"Fn::Join": ["-", [{"Ref": "B"}, {"Fn::GetAtt": ["A", "Name"]}]]}),
                "B": {**thing(Name="b"), "DependsOn": "A"},
                "A": thing(Name="a"),
            }
        )
    )
    assert recorder.actions() == [("create", "A"), ("create", "B"), ("create", "C")]
    assert recorder.calls[-1][2] == {"Name": "B-1-a"}


def test_a_failed_create_deletes_what_it_made_in_reverse(engine: Engine, recorder: Recorder) -> None:
    recorder.fail_on.add(("create", "C"))
    with pytest.raises(DeployFailed, match="C failed to create: C refused to create"):
        engine.deploy(stack({"A": thing(), "B": thing(After={"Ref": "A"}), "C": thing(After={"Ref": "B"})}))
    assert [(action, name) for action, name, _ in recorder.calls] == [
        ("create", "A"),
        ("create", "B"),
        ("create", "C"),
        ("delete", "B"),
        ("delete", "A"),
    ]
    statuses = [event.status for event in engine.events if event.logical_id == "Test"]
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


def test_an_update_changes_only_what_changed_and_cleans_up_replaced_and_removed(
    engine: Engine, recorder: Recorder
) -> None:
    gone = {**thing(), "DependsOn": "Replaced"}
    engine.deploy(
        stack({"Same": thing(V=1), "Changed": thing(V=1), "Replaced": thing(Replace="a"), "Gone": gone})
    )
    recorder.calls.clear()
    state = engine.deploy(stack({"Same": thing(V=1), "Changed": thing(V=2), "Replaced": thing(Replace="b")}))
    # The cleanup comes after every update and deletes dependents first (Gone depended on Replaced).
    assert [(action, name) for action, name, _ in recorder.calls] == [
        ("update", "Changed"),
        ("update", "Replaced"),
        ("delete", "Gone"),
        ("delete", "Replaced"),
    ]
    assert state.resources["Replaced"].physical_id == "Replaced-2"
    assert "Gone" not in state.resources
    assert state.status == "UPDATE_COMPLETE"


def test_a_failed_update_puts_changed_resources_back_with_old_and_new_swapped(
    engine: Engine, recorder: Recorder
) -> None:
    engine.deploy(stack({"First": thing(V=1), "Second": thing(V=1, After={"Ref": "First"})}))
    recorder.calls.clear()
    recorder.fail_on.add(("update", "Second"))
    with pytest.raises(DeployFailed, match="Second failed to update"):
        engine.deploy(
            stack({"First": thing(V=2), "New": thing(), "Second": thing(V=2, After={"Ref": "First"})})
        )
    assert recorder.calls == [
        ("update", "First", {"V": 2}),
        ("create", "New", {}),
        ("update", "Second", {"V": 2, "After": "First-1"}),
        ("update", "Second", {"V": 1, "After": "First-1"}),  # the rollback Update of the failed resource
        ("update", "First", {"V": 1}),
        ("delete", "New", {}),
    ]
    restored = engine._store.load("Test")
    assert restored is not None
    assert restored.status == "UPDATE_ROLLBACK_COMPLETE"
    assert restored.resources["First"].properties == {"V": 1}


def test_retained_resources_are_skipped_when_the_stack_is_destroyed(
    engine: Engine, recorder: Recorder
) -> None:
    engine.deploy(stack({"Kept": {**thing(), "DeletionPolicy": "Retain"}, "Dropped": thing()}))
    recorder.calls.clear()
    assert engine.destroy("Test")
    assert [(action, name) for action, name, _ in recorder.calls] == [("delete", "Dropped")]
    assert ("Kept", "DELETE_SKIPPED") in [(event.logical_id, event.status) for event in engine.events]
    assert not engine.destroy("Test")


def test_exports_and_imports_between_stacks(engine: Engine, recorder: Recorder) -> None:
    engine.deploy(
        stack(
            {"A": thing()}, "Producer", Outputs={"Out": {"Value": {"Ref": "A"}, "Export": {"Name": "shared"}}}
        )
    )
    consumer = engine.deploy(stack({"B": thing(From={"Fn::ImportValue": "shared"})}, "Consumer"))
    assert consumer.resources["B"].properties == {"From": "A-1"}
    with pytest.raises(DeployFailed, match="in use by Consumer"):
        engine.destroy("Producer")
    with pytest.raises(DeployFailed, match="export shared is already exported by stack Producer"):
        engine.deploy(
            stack(
                {"D": thing()},
                "Rival",
                Outputs={"Out": {"Value": {"Ref": "D"}, "Export": {"Name": "shared"}}},
            )
        )
    assert engine._store.load("Rival") is None  # rolled back: its resource was deleted again
    assert ("delete", "D", {}) in recorder.calls
    with pytest.raises(DeployFailed, match="No export named missing"):
        engine.deploy(stack({"C": thing(From={"Fn::ImportValue": "missing"})}, "Orphan"))


def test_an_unsupported_type_fails_the_deploy_before_anything_is_made(
    engine: Engine, recorder: Recorder
) -> None:
    with pytest.raises(DeployFailed, match=r"cannot deploy resource type AWS::S3::Bucket \(Bucket\)"):
        engine.deploy(stack({"A": thing(), "Bucket": {"Type": "AWS::S3::Bucket"}}))
    assert recorder.calls == []


def test_rules_and_conditions_are_evaluated(engine: Engine, recorder: Recorder) -> None:
    template: dict[str, Any] = {
        "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        },
    }
    state = engine.deploy(
        stack(
            {"Prod": {**thing(), "Condition": "IsProd"}, "Dev": {**thing(), "Condition": "IsDev"}}, **template
        )
    )
    assert set(state.resources) == {"Prod"}
    rules = {
        "Check": {
            "Assertions": [
                {"Assert": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, "AssertDescription": "dev only"}
            ]
        }
    }
    with pytest.raises(DeployFailed, match="rule Check: dev only"):
        engine.deploy(stack({"A": thing()}, "Ruled", **template, Rules=rules))


def scope(**conditions: bool) -> intrinsics.Scope:
    return intrinsics.Scope(
        pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"},
        parameters={"Name": "orders"},
        conditions=conditions,
        ref=lambda logical_id: f"{logical_id}-id",
        get_att=lambda logical_id, attribute: f"{logical_id}.{attribute}",
        import_value=lambda name: f"imported:{name}",
    )


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        (
            {"Fn::Sub": "arn:${AWS::Region}:${Name}:${Thing.Arn}:${!Literal}"},
            "arn:us-east-1:orders:Thing.Arn:${Literal}",
        ),
        ({"Fn::Sub": ["${A}-${Name}", {"A": {"Ref": "X"}}]}, "X-id-orders"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::Join": [":", ["a", {"Ref": "AWS::AccountId"}]]}, "a:123456789012"),
        ({"Fn::If": ["On", "yes", "no"]}, "yes"),
        ({"Fn::If": ["Off", "yes", {"Ref": "AWS::NoValue"}]}, intrinsics.REMOVED),
        ({"Fn::ImportValue": {"Fn::Sub": "${Name}-arn"}}, "imported:orders-arn"),
        ({"Fn::GetAtt": "Thing.Arn"}, "Thing.Arn"),
        ({"List": ["a", {"Fn::If": ["Off", "b", {"Ref": "AWS::NoValue"}]}]}, {"List": ["a"]}),
    ],
)
def test_intrinsic_functions(expression: Any, value: Any) -> None:
    assert intrinsics.resolve(expression, scope(On=True, Off=False)) == value


def test_unknown_intrinsic_functions_are_named() -> None:
    with pytest.raises(TemplateError, match="Fn::Transform is not supported"):
        intrinsics.resolve({"Fn::Transform": {}}, scope())
    with pytest.raises(TemplateError, match="condition 'Nope'"):
        intrinsics.resolve({"Fn::If": ["Nope", 1, 2]}, scope())


def test_custom_resources_get_scalars_as_strings_like_cloudformation_sends() -> None:
    sent = as_cloudformation_sends(
        {"CopyTags": True, "TimeoutSeconds": 1800, "Tags": [{"Key": "a", "Value": 1}]}
    )
    assert sent == {"CopyTags": "true", "TimeoutSeconds": "1800", "Tags": [{"Key": "a", "Value": "1"}]}


# -- order and concurrency ---------------------------------------------------------------------------------


def user(**properties: Any) -> dict[str, Any]:
    return {"Type": USER, "Properties": properties}


def handler_stack(*, declared: bool) -> Stack:
    """A custom resource whose handler (Function) needs a Permission; `declared` says whether it says so."""
    uses: dict[str, Any] = user(Token={"Ref": "Function"})
    if declared:
        uses["DependsOn"] = "Permission"
    return stack(
        {"Function": thing(), "Permission": thing(Of={"Ref": "Function"}), "User": uses, "Other": thing()}
    )


def test_independent_resources_are_created_and_deleted_at_the_same_time(
    tmp_path: Path, recorder: Recorder
) -> None:
    together = threading.Barrier(3, timeout=2)  # breaks (and fails the step) unless all three run at once
    for name in ("A", "B", "C"):
        recorder.during[("create", name)] = recorder.during[("delete", name)] = lambda change: together.wait()
    parallel = new_engine(tmp_path, recorder, Order.parallel())
    parallel.deploy(stack({"A": thing(), "B": thing(), "C": thing()}))
    assert parallel.destroy("Test")
    one_by_one = new_engine(tmp_path / "one", recorder, Order.one_at_a_time())
    with pytest.raises(DeployFailed, match="BrokenBarrierError"):
        one_by_one.deploy(stack({"A": thing(), "B": thing(), "C": thing()}))


def test_the_hostile_order_deletes_what_nothing_declares_a_need_for_before_custom_resources(
    tmp_path: Path, recorder: Recorder
) -> None:
    gone: set[str] = set()
    seen_by_user: list[set[str]] = []

    def slow_delete(change: Change) -> None:
        time.sleep(0.2)  # CloudFormation's parallel order would start the custom resource's Delete meanwhile
        gone.add(change.logical_id)

    recorder.during[("delete", "Permission")] = recorder.during[("delete", "Other")] = slow_delete
    recorder.during[("delete", "User")] = lambda change: seen_by_user.append(set(gone))
    hostile = new_engine(tmp_path, recorder, Order.hostile())
    hostile.deploy(handler_stack(declared=False))
    hostile.destroy("Test")
    assert seen_by_user[-1] == {"Permission", "Other"}
    assert recorder.actions()[-1] == ("delete", "Function")
    # Declared, the permission waits for the custom resource's Delete.
    gone.clear()
    hostile.deploy(handler_stack(declared=True))
    hostile.destroy("Test")
    assert seen_by_user[-1] == {"Other"}


def test_the_hostile_order_creates_what_nothing_declares_a_need_for_after_custom_resources(
    tmp_path: Path, recorder: Recorder
) -> None:
    seen_while_creating: list[set[str]] = []
    hostile = new_engine(tmp_path, recorder, Order.hostile())
    recorder.during[("create", "User")] = lambda change: seen_while_creating.append(
        set(change.stack.resources)
    )
    hostile.deploy(handler_stack(declared=False))
    assert "Permission" not in seen_while_creating[-1]
    assert "Function" in seen_while_creating[-1]
    hostile.destroy("Test")
    hostile.deploy(handler_stack(declared=True))
    assert "Permission" in seen_while_creating[-1]


def test_seeded_orders_differ_by_seed_and_always_keep_the_dependencies(
    tmp_path: Path, recorder: Recorder
) -> None:
    resources = {name: thing() for name in "ABCDEF"} | {"Z": thing(After={"Ref": "A"}, Also={"Ref": "F"})}
    orders = set()
    for seed in range(6):
        recorder.calls.clear()
        seeded = new_engine(tmp_path / str(seed), recorder, Order.seeded(seed))
        seeded.deploy(stack(resources))
        created = [name for _, name in recorder.actions()]
        assert sorted(created) == sorted(resources)
        assert created.index("Z") > max(created.index("A"), created.index("F"))
        orders.add(tuple(created))
        recorder.calls.clear()
        seeded.destroy("Test")
        deleted = [name for _, name in recorder.actions()]
        assert deleted.index("Z") < min(deleted.index("A"), deleted.index("F"))
    assert len(orders) > 1


def test_a_failed_delete_keeps_what_it_depends_on_and_the_stack_can_be_destroyed_again(
    engine: Engine, recorder: Recorder
) -> None:
    engine.deploy(stack({"Function": thing(), "User": user(Token={"Ref": "Function"}), "Other": thing()}))
    recorder.calls.clear()
    recorder.fail_on.add(("delete", "User"))
    with pytest.raises(DeployFailed, match="could not delete User: User refused to delete"):
        engine.destroy("Test")
    assert ("delete", "Function") not in recorder.actions()
    assert ("delete", "Other") in recorder.actions()  # independent of the failure
    kept = engine._store.load("Test")
    assert kept is not None
    assert (kept.status, sorted(kept.resources)) == ("DELETE_FAILED", ["Function", "User"])
    with pytest.raises(DeployFailed, match="DELETE_FAILED state and can not be updated"):
        engine.deploy(stack({"Function": thing()}))
    recorder.calls.clear()
    assert engine.destroy("Test")
    assert recorder.actions() == [("delete", "User"), ("delete", "Function")]
    assert engine._store.load("Test") is None


def test_a_stack_whose_rollback_failed_is_not_updated_and_can_be_destroyed(
    engine: Engine, recorder: Recorder
) -> None:
    recorder.fail_on |= {("create", "B"), ("delete", "A")}
    with pytest.raises(DeployFailed, match="B failed to create"):
        engine.deploy(stack({"A": thing(), "B": thing(After={"Ref": "A"})}))
    failed = engine._store.load("Test")
    assert failed is not None and failed.status == "ROLLBACK_FAILED"
    recorder.calls.clear()
    with pytest.raises(DeployFailed, match="ROLLBACK_FAILED state and can not be updated"):
        engine.deploy(stack({"A": thing(), "B": thing(After={"Ref": "A"})}))
    assert recorder.actions() == []
    recorder.fail_on.clear()
    assert engine.destroy("Test")
    assert recorder.actions() == [("delete", "A")]


# -- custom resources as CloudFormation runs them ---------------------------------------------------------


Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


class Handler:
    """A function and the ResponseURL in one: answers each event as `answers` says, or never (None)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.answers: dict[tuple[str, str], Answer] = {}
        self._answered: dict[str, dict[str, Any]] = {}
        self._arrived: dict[str, threading.Event] = {}

    # the Lambda runner's part
    def function(self, token: str) -> object | None:
        return token if token == "handler" else None

    def invoke_async(self, token: str, event: dict[str, Any], *, trigger: str) -> None:
        self.events.append(event)
        answer = self.answers.get((event["LogicalResourceId"], event["RequestType"]), success)
        body = answer(event)
        if body is not None:
            self.deliver(event, body)

    def deliver(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        self._answered[event["RequestId"]] = body
        self._arrived[event["RequestId"]].set()

    # the ResponseURL's part
    def url_for(self, request_id: str) -> str:
        self._arrived[request_id] = threading.Event()
        return f"https://responses.invalid/{request_id}"

    def wait(self, request_id: str, timeout: float) -> tuple[dict[str, Any], float] | None:
        if not self.clock.wait(self._arrived[request_id], timeout) or request_id not in self._answered:
            return None
        return self._answered[request_id], self.clock.now()

    def abandon(self, request_id: str) -> None:
        self._arrived[request_id].set()

    def requests(self, logical_id: str) -> list[tuple[str, str]]:
        return [
            (event["RequestType"], event.get("PhysicalResourceId", ""))
            for event in self.events
            if event["LogicalResourceId"] == logical_id
        ]


def success(event: dict[str, Any]) -> dict[str, Any]:
    physical_id = event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-made"
    return answer(event, "SUCCESS", physical_id)


def answer(event: dict[str, Any], status: str, physical_id: str, **more: Any) -> dict[str, Any]:
    ids = {key: event[key] for key in ("StackId", "RequestId", "LogicalResourceId")}
    return {"Status": status, "PhysicalResourceId": physical_id, **ids, **more}


class HandlerCloud(NoCloud):
    def __init__(self, handler: Handler) -> None:
        self.runner = handler
        self.clock = handler.clock


@pytest.fixture
def handler() -> Handler:
    return Handler(NoCloud.clock)


def custom_engine(tmp_path: Path, recorder: Recorder, handler: Handler, order: Order | None = None) -> Engine:
    custom = CustomResource(handler)
    return Engine(
        HandlerCloud(handler),
        StackStore(tmp_path),
        providers={THING: recorder},
        custom=custom,
        order=order or Order.one_at_a_time(),
    )


def custom(**properties: Any) -> dict[str, Any]:
    return {"Type": "Custom::Thing", "Properties": {"ServiceToken": "handler", **properties}}


def reasons(engine: Engine, logical_id: str) -> list[tuple[str, str]]:
    return [(event.status, event.reason) for event in engine.events if event.logical_id == logical_id]


def made_up(physical_id: str) -> bool:
    """CloudFormation's made-up ids have the shape of its generated names: stack-logical id-random."""
    return physical_id.startswith("Test-Copy-") and len(physical_id) > len("Test-Copy-")


def test_a_create_still_running_when_a_sibling_fails_is_cancelled_then_deleted_by_a_made_up_id(
    tmp_path: Path, recorder: Recorder, handler: Handler
) -> None:
    started = threading.Event()

    def still_copying(event: dict[str, Any]) -> None:
        started.set()  # the sibling fails only once this Create is under way, and it never answers

    handler.answers[("Copy", "Create")] = still_copying
    recorder.during[("create", "Sibling")] = lambda change: started.wait(5)
    recorder.fail_on.add(("create", "Sibling"))
    engine = custom_engine(tmp_path, recorder, handler, Order.parallel())
    with pytest.raises(DeployFailed, match="Sibling failed to create: Sibling refused to create"):
        engine.deploy(stack({"Copy": custom(ServiceTimeout=3600), "Sibling": thing()}))
    assert ("CREATE_FAILED", "Resource creation cancelled") in reasons(engine, "Copy")
    (create, _), (delete, physical_id) = handler.requests("Copy")
    assert (create, delete) == ("Create", "Delete")
    assert made_up(physical_id)
    assert engine._store.load("Test") is None


def test_an_unchanged_stack_is_marked_no_changes_and_a_changed_one_is_not(
    tmp_path: Path, recorder: Recorder
) -> None:
    engine = new_engine(tmp_path, recorder, Order.one_at_a_time())
    outputs = {"Name": {"Value": {"Ref": "A"}}}
    engine.deploy(stack({"A": thing(Size=1)}, Outputs=outputs))
    engine.deploy(stack({"A": thing(Size=1)}, Outputs=outputs))
    engine.deploy(stack({"A": thing(Size=1)}, Outputs={"Other": {"Value": "x"}}))
    engine.deploy(stack({"A": thing(Size=2)}, Outputs={"Other": {"Value": "x"}}))
    stack_events = [event for event in engine.events if event.logical_id == "Test"]
    completes = [event.reason for event in stack_events if event.status == "UPDATE_COMPLETE"]
    assert completes == [NO_CHANGES, "", ""]


def answer_after(handler: Handler, seconds: float) -> Answer:
    """Answers SUCCESS `seconds` of the handler's clock after the event, as a copy that takes that long."""

    def answer(event: dict[str, Any]) -> None:
        def later() -> None:
            handler.clock.sleep(seconds)
            handler.deliver(event, success(event))

        threading.Thread(target=later, daemon=True).start()

    return answer


def times(engine: Engine, logical_id: str) -> dict[str, float]:
    return {event.status: event.timestamp for event in engine.events if event.logical_id == logical_id}


def test_a_simulated_clock_skips_the_idle_time_of_a_whole_deploy(tmp_path: Path, recorder: Recorder) -> None:
    clock = SimulatedClock(scale=1.0)
    handler = Handler(clock)
    handler.answers[("Copy", "Create")] = answer_after(handler, 600)
    engine = custom_engine(tmp_path, recorder, handler, Order.parallel())
    started = time.monotonic()
    try:
        engine.deploy(stack({"Copy": custom(ServiceTimeout=3600), "Other": thing()}))
    finally:
        clock.stop()
    assert time.monotonic() - started < 10
    copy = times(engine, "Copy")
    assert copy["CREATE_COMPLETE"] - copy["CREATE_IN_PROGRESS"] == pytest.approx(600, abs=1)
    (timeline,) = engine._custom.timelines  # type: ignore[attr-defined]
    assert timeline.answered - timeline.sent == pytest.approx(600, abs=1)


def test_a_service_timeout_is_waited_in_simulated_seconds(tmp_path: Path, recorder: Recorder) -> None:
    clock = SimulatedClock(scale=1.0)
    handler = Handler(clock)
    handler.answers[("Copy", "Create")] = lambda event: None
    engine = custom_engine(tmp_path, recorder, handler)
    started = time.monotonic()
    try:
        with pytest.raises(DeployFailed, match="within 900 seconds"):
            engine.deploy(stack({"Copy": custom(ServiceTimeout=900)}))
    finally:
        clock.stop()
    assert time.monotonic() - started < 10
    copy = times(engine, "Copy")
    assert copy["CREATE_FAILED"] - copy["CREATE_IN_PROGRESS"] == pytest.approx(900, abs=1)


def test_a_custom_resource_that_does_not_answer_within_its_service_timeout_is_sent_a_delete(
    tmp_path: Path, recorder: Recorder, handler: Handler
) -> None:
    handler.answers[("Copy", "Create")] = lambda event: None
    engine = custom_engine(tmp_path, recorder, handler)
    with pytest.raises(DeployFailed, match="did not receive a response from your Custom Resource within 5 s"):
        engine.deploy(stack({"Copy": custom(ServiceTimeout=5)}))
    (create, _), (delete, physical_id) = handler.requests("Copy")
    assert (create, delete) == ("Create", "Delete")
    assert made_up(physical_id)


def test_failed_without_a_physical_id_is_an_invalid_physical_id_and_gets_a_made_up_one_to_delete(
    tmp_path: Path, recorder: Recorder, handler: Handler
) -> None:
    handler.answers[("Copy", "Create")] = lambda event: answer(event, "FAILED", "", Reason="quota")
    engine = custom_engine(tmp_path, recorder, handler)
    with pytest.raises(DeployFailed, match="Copy failed to create: Invalid PhysicalResourceId"):
        engine.deploy(stack({"Copy": custom()}))
    assert ("CREATE_FAILED", "Invalid PhysicalResourceId") in reasons(engine, "Copy")
    (_, _), (delete, physical_id) = handler.requests("Copy")
    assert delete == "Delete"
    assert made_up(physical_id)


def test_a_changed_service_token_fails_the_update_without_sending_it(
    tmp_path: Path, recorder: Recorder, handler: Handler
) -> None:
    engine = custom_engine(tmp_path, recorder, handler)
    engine.deploy(stack({"Copy": custom(Name="a")}))
    moved = custom(Name="b")
    moved["Properties"]["ServiceToken"] = "another-handler"
    with pytest.raises(DeployFailed, match="Modifying service token is not allowed"):
        engine.deploy(stack({"Copy": moved}))
    assert handler.requests("Copy") == [("Create", "")]
    restored = engine._store.load("Test")
    assert restored is not None
    assert restored.status == "UPDATE_ROLLBACK_COMPLETE"


# -- engine code --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ({"A": {"Properties": {}}}, "resource A has no Type"),
        ({"A": thing(Name={"Fn::Join": ["-"]})}, "Fn::Join cannot evaluate"),
        ({"A": thing(Name={"Fn::Select": ["x", ["a"]]})}, "Fn::Select cannot evaluate"),
        ({"A": {"Type": THING, "Condition": "Missing"}}, "condition 'Missing' is not declared"),
    ],
)
def test_malformed_templates_fail_with_the_engines_own_error(
    engine: Engine, resources: dict[str, Any], reason: str
) -> None:
    with pytest.raises(DeployFailed, match=reason) as raised:
        engine.deploy(stack(resources))
    assert isinstance(raised.value, DeploymentError)


def test_every_error_of_the_engine_shares_one_base_class() -> None:
    kinds = (AssemblyError, DeployFailed, ResourceFailed, TemplateError)
    assert all(issubclass(kind, DeploymentError) for kind in kinds)


@mock_aws
def test_deleting_a_permission_removes_its_statement_so_rules_may_no_longer_invoke() -> None:
    class Moto(NoCloud):
        def client(self, service: str, region: str, account: str | None = None) -> Any:
            return boto3.client(service, region_name=region)  # type: ignore[call-overload]

    lambdas = boto3.client("lambda", region_name="us-east-1")
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="r", AssumeRolePolicyDocument="{}"
    )
    function = lambdas.create_function(
        FunctionName="f", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
    )["FunctionArn"]  # fmt: skip
    rules = "arn:aws:events:us-east-1:123456789012:rule/poll-*"
    properties = {
        "FunctionName": function, "Action": "lambda:InvokeFunction", "Principal": EVENTS_PRINCIPAL,
        "SourceArn": rules, "SourceAccount": "123456789012",
    }  # fmt: skip
    owner = StackState("Test", "stack-id", "123456789012", "us-east-1", "CREATE_IN_PROGRESS", {})
    permission = LambdaPermission()
    statement = permission.create(Change(Moto(), owner, "Permission", "AWS::Lambda::Permission", properties))
    rule = "arn:aws:events:us-east-1:123456789012:rule/poll-copy"
    policy = json.loads(lambdas.get_policy(FunctionName="f")["Policy"])
    assert allowed_by(policy, EVENTS_PRINCIPAL, rule, "123456789012")
    change = Change(Moto(), owner, "Permission", "AWS::Lambda::Permission", properties)
    change.physical_id = statement.physical_id
    permission.delete(change)
    with pytest.raises(lambdas.exceptions.ResourceNotFoundException):
        lambdas.get_policy(FunctionName="f")
