"""Parsing the custom resource's properties as CloudFormation delivers them."""

from __future__ import annotations

from typing import Any

import pytest

from copied_snapshot_runtime import properties, rules

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
