"""Parsing the custom resource's properties as CloudFormation delivers them."""

from __future__ import annotations

from typing import Any

import pytest

from copied_snapshot_runtime import properties, rules
from copied_snapshot_runtime.properties import (
    InvalidProperties,
    parse_properties,
    read_unchecked,
    service_timeout,
)

SOURCE = "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/source-1"


def raw(**overrides: Any) -> dict[str, Any]:
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:handler",
        "SourceSnapshotArn": SOURCE,
        "TargetSnapshotName": "orders-copy",
        **overrides,
    }


def test_defaults() -> None:
    props = properties.parse_properties(raw())
    assert props == properties.CopyProperties(
        source_snapshot_arn=SOURCE,
        target_snapshot_name="orders-copy",
        name_generated=False,
        kms_key_id=None,
        copy_tags=False,
        tags={},
        timeout_seconds=properties.DEFAULT_TIMEOUT_SECONDS,
    )


def test_strings_as_cloudformation_sends_them() -> None:
    props = properties.parse_properties(
        raw(
            CopyTags="true",
            NameGenerated="False",
            TimeoutSeconds="600",
            KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k",
            Tags=[{"Key": "team", "Value": "data"}, {"Key": "n", "Value": "1"}],
        )
    )
    assert props.copy_tags is True
    assert props.name_generated is False
    assert props.timeout_seconds == 600
    assert props.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/k"
    assert props.tags == {"team": "data", "n": "1"}


def test_service_timeout_that_cloudformation_passes_along_is_accepted() -> None:
    props = properties.parse_properties(raw(ServiceTimeout="2100", TimeoutSeconds="1800"))
    assert props.timeout_seconds == 1800


def test_typed_values_are_accepted_too() -> None:
    props = properties.parse_properties(raw(CopyTags=True, TimeoutSeconds=120, Tags={"a": "b"}))
    assert (props.copy_tags, props.timeout_seconds, props.tags) == (True, 120, {"a": "b"})


def test_unknown_properties_list_the_accepted_ones() -> None:
    with pytest.raises(properties.InvalidProperties) as caught:
        properties.parse_properties(raw(SnapshotName="x", Colour="red"))
    message = str(caught.value)
    assert "Colour, SnapshotName" in message
    for accepted in properties.ACCEPTED:
        assert accepted in message


@pytest.mark.parametrize("missing", ["SourceSnapshotArn", "TargetSnapshotName"])
def test_required_properties(missing: str) -> None:
    values = raw()
    del values[missing]
    with pytest.raises(properties.InvalidProperties, match=f"{missing} is required"):
        properties.parse_properties(values)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CopyTags": "yes"}, "CopyTags must be true or false"),
        ({"TimeoutSeconds": "soon"}, "whole number"),
        ({"TimeoutSeconds": "59"}, "60 to 3300"),
        ({"TimeoutSeconds": "3301"}, "60 to 3300"),
        ({"Tags": "team=data"}, "list of"),
        ({"Tags": [{"Key": "a"}]}, "Key, Value"),
        ({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}, "given twice"),
    ],
)
def test_bad_values(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(properties.InvalidProperties, match=message):
        properties.parse_properties(raw(**overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SourceSnapshotArn": "snap-1"}, "cluster snapshot ARN"),
        ({"TargetSnapshotName": "bad--name"}, "consecutive hyphens"),
        ({"Tags": [{"Key": "aws:x", "Value": "1"}]}, "tag key 'aws:x'"),
    ],
)
def test_api_rules_are_applied(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(rules.RuleViolation, match=message):
        properties.parse_properties(raw(**overrides))


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("team=data", "Tags must be a list of {Key, Value}, got str"),
        (
            [{"Key": "team", "Value": None}],
            "Tags[0] must have a string Key and Value, got Key str and Value null",
        ),
        ([{"Key": 7, "Value": "x"}], "Tags[0] must have a string Key and Value, got Key int and Value str"),
        ([{"Key": "a", "Value": ["x"]}], "Value a list"),
        ([None], "Tags[0] must be {Key, Value}, got null"),
    ],
)
def test_tags_of_the_wrong_shape_are_named_by_shape(tags: object, message: str) -> None:
    with pytest.raises(InvalidProperties) as raised:
        parse_properties(raw(Tags=tags))
    assert message in str(raised.value)


def test_properties_that_are_not_a_map_are_refused() -> None:
    with pytest.raises(InvalidProperties, match="ResourceProperties must be a map, got a list"):
        parse_properties([])


@pytest.mark.parametrize("tags", ["team=data", [{"Key": "team", "Value": None}], [None, "x"], 7])
def test_unchecked_reading_takes_any_shape(tags: object) -> None:
    """The old side of a rollback Update may hold the values that update was refused for."""
    props = read_unchecked({**raw(), "Tags": tags})
    assert props.target_snapshot_name == raw()["TargetSnapshotName"]
    assert read_unchecked("not a map").tags == {}


@pytest.mark.parametrize(("value", "seconds"), [("1500", 1500), (None, 3600), ("x", 3600), ("9999", 3600)])
def test_service_timeout_read_with_cloudformations_default(value: object, seconds: int) -> None:
    assert service_timeout({"ServiceTimeout": value} if value is not None else {}) == seconds
