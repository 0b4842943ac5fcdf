"""The local CloudFormation engine's rules, with a recording provider instead of real resources."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from local_cloud.assembly import Stack
from local_cloud.cloudformation import intrinsics, providers
from local_cloud.cloudformation.custom import as_cloudformation_sends
from local_cloud.cloudformation.engine import DeployFailed, Engine
from local_cloud.cloudformation.providers import Change, Outcome, ResourceFailed
from local_cloud.cloudformation.store import StackStore

THING = "Test::Thing"


class Recorder:
    """A provider that records what it is asked, and fails once where told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_on: set[tuple[str, str]] = set()
        self.versions: dict[str, int] = {}

    def _record(self, action: str, change: Change) -> None:
        self.calls.append((action, change.logical_id, dict(change.properties)))
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


class NoCloud:
    runner: Any = None

    def client(self, service: str, region: str) -> Any:
        raise AssertionError("no AWS client is needed here")

    def function_environment(self, region: str, variables: Mapping[str, str]) -> dict[str, str]:
        return dict(variables)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    monkeypatch.setitem(providers.PROVIDERS, THING, recording)
    return recording


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(NoCloud(), StackStore(tmp_path), custom=None)  # type: ignore[arg-type]


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
    assert [(action, name) for action, name, _ in recorder.calls] == [
        ("create", "A"),
        ("create", "B"),
        ("create", "C"),
    ]
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
            stack({"First": thing(V=2), "Second": thing(V=2, After={"Ref": "First"}), "New": thing()})
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
    with pytest.raises(intrinsics.TemplateError, match="Fn::Transform is not supported"):
        intrinsics.resolve({"Fn::Transform": {}}, scope())
    with pytest.raises(intrinsics.TemplateError, match="condition 'Nope'"):
        intrinsics.resolve({"Fn::If": ["Nope", 1, 2]}, scope())


def test_custom_resources_get_scalars_as_strings_like_cloudformation_sends() -> None:
    sent = as_cloudformation_sends(
        {"CopyTags": True, "TimeoutSeconds": 1800, "Tags": [{"Key": "a", "Value": 1}]}
    )
    assert sent == {"CopyTags": "true", "TimeoutSeconds": "1800", "Tags": [{"Key": "a", "Value": "1"}]}
