"""The API's rules, shared by the construct and the handler."""

from __future__ import annotations

import pytest

from copied_snapshot_runtime import rules


@pytest.mark.parametrize("name", ["a", "orders-dr-copy", "A1-b2-C3", "x" * 63])
def test_valid_names_pass(name: str) -> None:
    assert rules.name_problems(name) == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "1 to 63 characters"),
        ("x" * 64, "1 to 63 characters"),
        ("1copy", "start with a letter"),
        ("-copy", "start with a letter"),
        ("copy-", "end with a hyphen"),
        ("my--copy", "two consecutive hyphens"),
        ("my_copy", "letters, digits and hyphens"),
        ("my copy", "letters, digits and hyphens"),
        ("abc\n", "letters, digits and hyphens"),
        ("\u00e9t\u00e9", "letters, digits and hyphens"),
    ],
)
def test_invalid_names_name_the_rule(name: str, rule: str) -> None:
    with pytest.raises(rules.RuleViolation, match=rule) as caught:
        rules.check_name(name)
    assert repr(name) in str(caught.value)


def test_every_problem_of_a_name_is_reported_at_once() -> None:
    with pytest.raises(rules.RuleViolation) as caught:
        rules.check_name("1my--copy_-")
    message = str(caught.value)
    for rule in (
        "letters, digits and hyphens",
        "start with a letter",
        "end with a hyphen",
        "two consecutive",
    ):
        assert rule in message


def test_tag_rules_come_from_the_service_model() -> None:
    key = rules.tag_key_constraint()
    assert (key.min_length, key.max_length) == (1, 128)
    assert key.pattern is not None
    assert key.pattern.pattern == "^(?!aws:)[a-zA-Z+-=._:/]+$"
    assert rules.tag_value_constraint().max_length == 256


@pytest.mark.parametrize("key", ["team", "a+b=c", "x.y_z:w/v", "cost-center", "k1", "a,b;c<d", "x" * 128])
def test_tag_keys_the_model_allows(key: str) -> None:
    # `+-=` in the modelled class is a range, so digits and `,;<` are allowed as the service allows them.
    assert rules.tag_problems({key: "v"}) == []


@pytest.mark.parametrize(
    "key", ["aws:owner", "has space", "at@sign", "hash#", "star*", "", "x" * 129, "key\n"]
)
def test_tag_keys_the_model_rejects(key: str) -> None:
    problems = rules.tag_problems({key: "v"})
    assert len(problems) == 1
    assert repr(key) in problems[0]


def test_tag_values_up_to_256_characters() -> None:
    assert rules.tag_problems({"k": "v" * 256}) == []
    assert rules.tag_problems({"k": ""}) == []
    [problem] = rules.tag_problems({"k": "v" * 257})
    assert "0 to 256" in problem and "'k'" in problem


def test_at_most_49_tags_one_being_kept_for_ownership() -> None:
    assert rules.tag_problems({f"k{i}": "v" for i in range(49)}) == []
    [problem] = rules.tag_problems({f"k{i}": "v" for i in range(50)})
    assert (
        "at most 49 tags are allowed (50 per snapshot, one kept for the copied-snapshot:owner tag)" in problem
    )


def test_the_ownership_prefix_is_reserved() -> None:
    [problem] = rules.tag_problems({"Copied-Snapshot:owner": "me"})
    assert "'Copied-Snapshot:owner' uses the prefix 'copied-snapshot:'" in problem


def test_snapshot_arn_is_taken_apart() -> None:
    arn = rules.check_snapshot_arn("arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc-123")
    assert (arn.partition, arn.region, arn.account, arn.resource_id) == (
        "aws",
        "us-west-2",
        "123456789012",
        "abc-123",
    )
    assert str(arn) == "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc-123"


@pytest.mark.parametrize(
    "value",
    [
        "orders-snapshot",
        "arn:aws:docdb-elastic:us-west-2:123456789012:cluster/abc",
        "arn:aws:rds:us-west-2:123456789012:cluster-snapshot/abc",
        "arn:aws:docdb-elastic:us-west-2:1234:cluster-snapshot/abc",
        "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/",
        "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc\n",
        "arn:awsfoo:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc",
        "arn:aws-xx:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc",
    ],
)
def test_other_arns_are_rejected(value: str) -> None:
    assert rules.parse_snapshot_arn(value) is None
    with pytest.raises(rules.RuleViolation, match="cluster snapshot ARN"):
        rules.check_snapshot_arn(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MyStack-DrCopy-1A2B3C4D", "mystack-drcopy-1a2b3c4d"),
        ("123Stack", "s-123stack"),
        ("a__b--c", "a-b-c"),
        ("", "snapshot"),
    ],
)
def test_names_made_from_text_are_valid(text: str, expected: str) -> None:
    assert rules.valid_name_from(text) == expected


def test_names_made_from_long_text_fit() -> None:
    name = rules.valid_name_from("a" * 62 + "-b" + "c" * 10)
    assert rules.name_problems(name) == []
    assert len(name) <= 63


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-f"])
def test_every_aws_partition_is_accepted(partition: str) -> None:
    arn = f"arn:{partition}:docdb-elastic:us-west-2:123456789012:cluster-snapshot/abc"
    assert rules.check_snapshot_arn(arn).partition == partition


SOURCE_EAST = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/source-1"


@pytest.mark.parametrize(
    ("region", "account", "where"),
    [
        ("us-east-1", "123456789012", None),
        (None, None, None),  # an environment-agnostic stack: nothing known to compare
        ("us-west-2", "123456789012", "region us-east-1, not us-west-2"),
        ("us-east-1", "210987654321", "account 123456789012, not 210987654321"),
        ("us-west-2", None, "region us-east-1, not us-west-2"),
        (
            "eu-west-1",
            "210987654321",
            "region us-east-1, not eu-west-1 and account 123456789012, not 210987654321",
        ),
    ],
)
def test_a_source_is_copied_only_in_its_own_region_and_account(
    region: str | None, account: str | None, where: str | None
) -> None:
    problem = rules.place_problem(SOURCE_EAST, region=region, account=account)
    if where is None:
        assert problem is None
        return
    assert problem == f"source snapshot {SOURCE_EAST} is in {where}: {rules.SAME_PLACE_RULE}"
    assert "DocumentDB Developer Guide: Copying an elastic cluster snapshot" in problem
    if " and " not in where:
        assert len(problem) <= 256  # kept whole in the FAILED reason
