"""The construct's props, attributes, validation, tags and shared handler, via aws_cdk.assertions."""

from __future__ import annotations

import traceback
from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Duration, Environment, RemovalPolicy, Resource, Stack, Tags, Token
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from constructs import Node

from copied_snapshot import RESOURCE_TYPE, CopiedSnapshot, RuleViolation
from copied_snapshot_runtime import rules
from tests.support.apps import new_app
from tests.support.constants import ACCOUNT, REGION, snapshot_arn

SOURCE = snapshot_arn("source-1")
ENV = Environment(account=ACCOUNT, region=REGION)


def stack_in(app: App | None = None, id: str = "Stack", env: Environment = ENV) -> Stack:
    return Stack(app or new_app(), id, env=env)


def copy_properties(template: Template) -> dict[str, Any]:
    [resource] = template.find_resources(RESOURCE_TYPE).values()
    return dict(resource["Properties"])


@pytest.fixture(scope="module")
def full() -> tuple[Stack, CopiedSnapshot, Template]:
    """One stack with every prop set, shared by the tests that only read its template."""
    stack = stack_in()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    copy = CopiedSnapshot(
        stack,
        "Copy",
        source_snapshot_arn=SOURCE,
        target_snapshot_name="orders-copy",
        kms_key=key,
        copy_tags=True,
        tags={"team": "data"},
        removal_policy=RemovalPolicy.RETAIN,
        timeout=Duration.minutes(20),
    )
    Tags.of(stack).add("env", "prod")
    return stack, copy, Template.from_stack(stack)


def test_every_prop_reaches_the_resource(full: tuple[Stack, CopiedSnapshot, Template]) -> None:
    _stack, _copy, template = full
    [key_id] = template.find_resources("AWS::KMS::Key")
    template.has_resource(
        RESOURCE_TYPE,
        {
            "Properties": {
                "SourceSnapshotArn": SOURCE,
                "TargetSnapshotName": "orders-copy",
                "NameGenerated": False,
                "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
                "CopyTags": True,
                "TimeoutSeconds": 1200,
                "ServiceTimeout": "1500",
                "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "data"}],
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_defaults() -> None:
    stack = stack_in()
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    props = copy_properties(Template.from_stack(stack))
    assert props["CopyTags"] is False
    assert props["NameGenerated"] is True
    assert props["TimeoutSeconds"] == 3300
    assert props["ServiceTimeout"] == "3600"
    assert "KmsKeyId" not in props
    assert "Tags" not in props
    Template.from_stack(stack).has_resource(
        RESOURCE_TYPE, {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )


def test_attributes_are_get_att_tokens(full: tuple[Stack, CopiedSnapshot, Template]) -> None:
    stack, copy, template = full
    [logical_id] = template.find_resources(RESOURCE_TYPE)
    expected = {
        "snapshot_arn": "SnapshotArn",
        "snapshot_name": "SnapshotName",
        "snapshot_status": "Status",
        "snapshot_kms_key_id": "KmsKeyId",
        "snapshot_cluster_arn": "ClusterArn",
        "snapshot_creation_time": "SnapshotCreationTime",
    }
    for attribute, name in expected.items():
        value = getattr(copy, attribute)
        assert Token.is_unresolved(value)
        assert stack.resolve(value) == {"Fn::GetAtt": [logical_id, name]}


def test_tags_of_scope_override_prop_tags_of_the_same_key() -> None:
    stack = stack_in()
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, tags={"team": "data", "tier": "1"})
    Tags.of(stack).add("team", "platform")
    assert copy_properties(Template.from_stack(stack))["Tags"] == [
        {"Key": "team", "Value": "platform"},
        {"Key": "tier", "Value": "1"},
    ]


def test_one_handler_per_stack_for_many_copies() -> None:
    app = new_app()
    first, second = stack_in(app, "First"), stack_in(app, "Second")
    for index in range(5):
        CopiedSnapshot(first, f"Copy{index}", source_snapshot_arn=SOURCE)
    CopiedSnapshot(second, "Copy", source_snapshot_arn=SOURCE)
    first_template = Template.from_stack(first)
    first_template.resource_count_is("AWS::Lambda::Function", 1)
    first_template.resource_count_is(RESOURCE_TYPE, 5)
    first_template.resource_count_is("AWS::Lambda::Permission", 1)
    Template.from_stack(second).resource_count_is("AWS::Lambda::Function", 1)
    [function_id] = first_template.find_resources("AWS::Lambda::Function")
    for resource in first_template.find_resources(RESOURCE_TYPE).values():
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_handler_function_runtime_architecture_and_logs(full: tuple[Stack, CopiedSnapshot, Template]) -> None:
    _stack, _copy, template = full
    [log_group_id] = template.find_resources("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 365}})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "index.handler",
            "Timeout": 300,
            "MemorySize": 128,
            "LoggingConfig": {"LogGroup": {"Ref": log_group_id}},
            "Environment": {"Variables": {"POLL_RULE_PREFIX": Match.string_like_regexp("^CopiedSnapshot")}},
        },
    )


def test_generated_names_are_valid_deterministic_and_unique() -> None:
    def names() -> list[str]:
        app = new_app()
        stack = stack_in(app, "Orders-Stack")
        copies = [
            CopiedSnapshot(stack, "DrCopy", source_snapshot_arn=SOURCE),
            CopiedSnapshot(stack, "drcopy", source_snapshot_arn=SOURCE),
            CopiedSnapshot(stack, "A" * 80, source_snapshot_arn=SOURCE),
        ]
        return [copy.target_snapshot_name for copy in copies]

    first = names()
    assert first == names()
    assert len({name.lower() for name in first}) == 3
    for name in first:
        assert len(name) <= 63 and name[0].isalpha() and "--" not in name and not name.endswith("-")


def test_imported_copy_by_arn() -> None:
    stack = stack_in()
    arn = "arn:aws:docdb-elastic:us-west-2:210987654321:cluster-snapshot/copy-1"
    imported = CopiedSnapshot.from_snapshot_arn(stack, "Imported", arn)
    assert imported.snapshot_arn == arn
    assert (imported.snapshot_name, imported.snapshot_kms_key_id) == (None, None)  # not the ARN's id
    assert isinstance(imported, Resource)
    assert (imported.env.account, imported.env.region) == ("210987654321", "us-west-2")
    told = CopiedSnapshot.from_snapshot_arn(
        stack, "Told", arn, snapshot_name="orders-kept", snapshot_kms_key_id="arn:aws:kms:us-west-2:1:key/k"
    )
    assert (told.snapshot_name, told.snapshot_kms_key_id) == ("orders-kept", "arn:aws:kms:us-west-2:1:key/k")
    with pytest.raises(RuleViolation, match="invalid snapshot ARN 'copy-1'"):
        CopiedSnapshot.from_snapshot_arn(stack, "Bad", "copy-1")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"source_snapshot_arn": "orders-nightly"}, "invalid source snapshot ARN 'orders-nightly'"),
        (
            {"target_snapshot_name": "orders--copy"},
            "invalid target snapshot name 'orders--copy'.*consecutive",
        ),
        ({"target_snapshot_name": "1copy"}, "'1copy'.*start with a letter"),
        ({"tags": {"aws:team": "x"}}, "tag key 'aws:team'"),
        ({"tags": {"team": "v" * 257}}, "tag 'team' value must be 0 to 256"),
        ({"tags": {"has space": "x"}}, "tag key 'has space' must match"),
        ({"removal_policy": RemovalPolicy.SNAPSHOT}, "removal policy SNAPSHOT is not supported"),
        ({"timeout": Duration.seconds(59)}, "timeout of 59 seconds is out of range"),
        ({"timeout": Duration.minutes(56)}, "timeout of 3360 seconds is out of range"),
        ({"polling_interval": Duration.seconds(4)}, "polling interval of 4 seconds is out of range"),
        ({"polling_interval": Duration.minutes(2)}, "polling interval of 120 seconds is out of range"),
        ({"polling_interval": Duration.millis(5500)}, "polling interval of 5.5 seconds is out of range"),
    ],
)
def test_invalid_props_raise_at_construction(props: dict[str, Any], message: str) -> None:
    stack = stack_in()
    arguments: dict[str, Any] = {"source_snapshot_arn": SOURCE, **props}
    with pytest.raises(ValueError, match=message):
        CopiedSnapshot(stack, "Copy", **arguments)


def test_names_equal_ignoring_case_clash_in_one_account_and_region() -> None:
    app = new_app()
    CopiedSnapshot(stack_in(app, "One"), "Copy", source_snapshot_arn=SOURCE, target_snapshot_name="Orders")
    with pytest.raises(RuleViolation, match="'orders' of Two/Copy is already used by One/Copy"):
        CopiedSnapshot(
            stack_in(app, "Two"), "Copy", source_snapshot_arn=SOURCE, target_snapshot_name="orders"
        )


def test_the_same_name_in_another_region_or_account_is_fine() -> None:
    app = new_app()
    CopiedSnapshot(stack_in(app, "East"), "Copy", source_snapshot_arn=SOURCE, target_snapshot_name="orders")
    west = Environment(account="123456789012", region="us-west-2")
    west_source = SOURCE.replace("us-east-1", "us-west-2")
    CopiedSnapshot(
        stack_in(app, "West", env=west),
        "Copy",
        source_snapshot_arn=west_source,
        target_snapshot_name="orders",
    )
    other = Environment(account="210987654321", region="us-east-1")
    other_source = SOURCE.replace("123456789012", "210987654321")
    CopiedSnapshot(
        stack_in(app, "Other", env=other),
        "Copy",
        source_snapshot_arn=other_source,
        target_snapshot_name="orders",
    )


def test_environment_agnostic_stacks_compare_names_only_within_themselves() -> None:
    app = new_app()
    first, second = Stack(app, "First"), Stack(app, "Second")
    CopiedSnapshot(first, "Copy", source_snapshot_arn=SOURCE, target_snapshot_name="orders")
    CopiedSnapshot(second, "Copy", source_snapshot_arn=SOURCE, target_snapshot_name="orders")
    with pytest.raises(RuleViolation, match="'ORDERS' of First/Again is already used by First/Copy"):
        CopiedSnapshot(first, "Again", source_snapshot_arn=SOURCE, target_snapshot_name="ORDERS")


def test_the_name_check_does_not_scan_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """One registry per account and region: declaring n copies never walks the construct tree."""
    walks: list[str] = []
    original = Node.find_all

    def counting_find_all(self: Node, *args: Any) -> Any:
        walks.append(self.path)
        return original(self, *args)

    monkeypatch.setattr(Node, "find_all", counting_find_all)
    stack = stack_in()
    for index in range(3):
        CopiedSnapshot(stack, f"Copy{index}", source_snapshot_arn=SOURCE)
    assert walks == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            SOURCE.replace("us-east-1", "us-west-2"),
            "is in region us-west-2, not us-east-1: ",
        ),
        (
            SOURCE.replace("123456789012", "210987654321"),
            "is in account 210987654321, not 123456789012: ",
        ),
    ],
)
def test_a_source_of_another_region_or_account_is_refused(source: str, message: str) -> None:
    with pytest.raises(RuleViolation, match=message) as raised:
        CopiedSnapshot(stack_in(), "Copy", source_snapshot_arn=source)
    assert str(raised.value).endswith(rules.SAME_PLACE_RULE)


def test_an_environment_agnostic_stack_leaves_the_source_place_to_the_handler() -> None:
    stack = Stack(new_app(), "Agnostic")
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE.replace("us-east-1", "eu-west-1"))
    assert copy_properties(Template.from_stack(stack))["SourceSnapshotArn"].startswith(
        "arn:aws:docdb-elastic:eu"
    )


@pytest.mark.parametrize("copy_tags", ["false", 1, None])
def test_copy_tags_must_be_a_bool(copy_tags: Any) -> None:
    with pytest.raises(RuleViolation, match="copy_tags must be True or False"):
        CopiedSnapshot(stack_in(), "Copy", source_snapshot_arn=SOURCE, copy_tags=copy_tags)


def test_a_timeout_token_in_seconds_is_left_to_deploy_time() -> None:
    stack = stack_in()
    seconds = CfnParameter(stack, "TimeoutSeconds", type="Number").value_as_number
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, timeout=Duration.seconds(seconds))
    props = copy_properties(Template.from_stack(stack))
    assert props["TimeoutSeconds"] == {"Ref": "TimeoutSeconds"}
    assert props["ServiceTimeout"] == "3600"  # the longest the handler may be given, plus its margin


def test_the_polling_interval_reaches_the_handler_only_when_given() -> None:
    stack = stack_in()
    CopiedSnapshot(stack, "Given", source_snapshot_arn=SOURCE, polling_interval=Duration.seconds(20))
    CopiedSnapshot(stack, "Unset", source_snapshot_arn=SOURCE)
    template = Template.from_stack(stack)
    found = template.find_resources(RESOURCE_TYPE)
    [given] = [resource["Properties"] for name, resource in found.items() if name.startswith("Given")]
    [default] = [resource["Properties"] for name, resource in found.items() if name.startswith("Unset")]
    assert given["PollingInterval"] == 20
    assert "PollingInterval" not in default


def test_a_polling_interval_token_in_seconds_is_left_to_deploy_time() -> None:
    stack = stack_in()
    seconds = CfnParameter(stack, "Interval", type="Number").value_as_number
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, polling_interval=Duration.seconds(seconds))
    assert copy_properties(Template.from_stack(stack))["PollingInterval"] == {"Ref": "Interval"}


def test_a_timeout_token_in_minutes_cannot_be_converted() -> None:
    stack = stack_in()
    minutes = CfnParameter(stack, "TimeoutMinutes", type="Number").value_as_number
    with pytest.raises(RuleViolation, match=r"Duration.seconds\(token\)"):
        CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE, timeout=Duration.minutes(minutes))


def test_the_printed_class_is_the_one_users_import() -> None:
    with pytest.raises(RuleViolation) as raised:
        CopiedSnapshot(stack_in(), "Copy", source_snapshot_arn="nope")
    assert type(raised.value) is RuleViolation and isinstance(raised.value, ValueError)
    assert (
        f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
        == "copied_snapshot.RuleViolation"
    )
    assert "".join(traceback.format_exception_only(raised.value)).startswith(
        "copied_snapshot.RuleViolation: "
    )


def test_apply_removal_policy_reaches_the_custom_resource() -> None:
    stack = stack_in()
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    copy.apply_removal_policy(RemovalPolicy.RETAIN)
    Template.from_stack(stack).has_resource(
        RESOURCE_TYPE, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    with pytest.raises(RuleViolation, match="removal policy SNAPSHOT is not supported"):
        copy.apply_removal_policy(RemovalPolicy.SNAPSHOT)


def test_key_of_another_region_is_rejected() -> None:
    app = new_app()
    key_stack = stack_in(app, "Keys", env=Environment(account="123456789012", region="eu-west-1"))
    key = kms.Key(key_stack, "Key", enable_key_rotation=True)
    with pytest.raises(RuleViolation, match="is in eu-west-1 but the copy is made in us-east-1"):
        CopiedSnapshot(stack_in(app), "Copy", source_snapshot_arn=SOURCE, kms_key=key)


def test_tokens_are_left_to_the_handler() -> None:
    stack = stack_in()
    source = Token.as_string({"Fn::ImportValue": "SourceArn"})
    name = CfnParameter(stack, "NameParameter").value_as_string
    copy = CopiedSnapshot(stack, "Copy", source_snapshot_arn=source, target_snapshot_name=name)
    assert copy.target_snapshot_name == name
    props = copy_properties(Template.from_stack(stack))
    assert props["SourceSnapshotArn"] == {"Fn::ImportValue": "SourceArn"}


def test_tags_added_by_scope_are_validated_at_synth() -> None:
    app = new_app()
    stack = stack_in(app)
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    Tags.of(stack).add("bad*key", "x")
    with pytest.raises(RuntimeError, match=r"tag key 'bad\*key' must match"):
        app.synth()
