"""The API's rules for snapshot names, tags and ARNs, shared by the construct and the handler.

Tag constraints are read from botocore's service model for docdb-elastic, the same data the service is
described by, rather than copied by hand. Name rules the model does not express (first character, hyphens)
come from the CopyClusterSnapshot documentation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session

SERVICE = "docdb-elastic"
NAME_MAX_LENGTH = 63
# The API does not model a count, but AWS resources accept at most 50 user tags. One of them is kept
# for the ownership tag the handler puts on every copy it makes.
MAX_TAGS = 50
MAX_USER_TAGS = MAX_TAGS - 1
RESERVED_TAG_PREFIX = "copied-snapshot:"
OWNER_TAG = RESERVED_TAG_PREFIX + "owner"

# Every pattern here is applied with `fullmatch`: `$` alone also matches before a final newline.
_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9-]+")
# AWS partitions: aws, aws-cn, aws-us-gov and the isolated aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
# (AWS General Reference, "Amazon Resource Names (ARNs)" and the partitions botocore's endpoints list).
PARTITION_PATTERN = r"aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?"
_SNAPSHOT_ARN = re.compile(
    rf"arn:(?P<partition>{PARTITION_PATTERN}):docdb-elastic:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d+):"
    r"(?P<account>\d{12}):cluster-snapshot/(?P<resource_id>[A-Za-z0-9-]+)"
)


class RuleViolation(ValueError):
    """A value breaks one of the API's rules; the message names the value and the rule."""


@dataclass(frozen=True)
class StringConstraint:
    min_length: int
    max_length: int
    pattern: re.Pattern[str] | None


@functools.cache
def _model_constraint(shape_name: str) -> StringConstraint:
    model = botocore.session.get_session().get_service_model(SERVICE)
    metadata: Mapping[str, Any] = model.shape_for(shape_name).metadata
    pattern = metadata.get("pattern")
    return StringConstraint(
        min_length=int(metadata.get("min", 0)),
        max_length=int(metadata["max"]),
        pattern=re.compile(pattern) if pattern else None,
    )


def tag_key_constraint() -> StringConstraint:
    return _model_constraint("TagKey")


def tag_value_constraint() -> StringConstraint:
    return _model_constraint("TagValue")


def name_problems(name: str) -> list[str]:
    """Every reason `name` cannot be a target snapshot name; empty when it can."""
    problems: list[str] = []
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        problems.append(f"must be 1 to {NAME_MAX_LENGTH} characters long, got {len(name)}")
    if name and not _NAME_CHARACTERS.fullmatch(name):
        problems.append("may contain only letters, digits and hyphens")
    if name and not (name[0].isascii() and name[0].isalpha()):
        problems.append("must start with a letter")
    if name.endswith("-"):
        problems.append("must not end with a hyphen")
    if "--" in name:
        problems.append("must not contain two consecutive hyphens")
    return problems


def check_name(name: str) -> None:
    problems = name_problems(name)
    if problems:
        raise RuleViolation(f"invalid target snapshot name {name!r}: {'; '.join(problems)}")


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    """Every way `tags` breaks the API's tag rules, each naming the tag and the rule."""
    problems: list[str] = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            f"at most {MAX_USER_TAGS} tags are allowed ({MAX_TAGS} per snapshot, one kept for the "
            f"{OWNER_TAG} tag), got {len(tags)}"
        )
    key_rule, value_rule = tag_key_constraint(), tag_value_constraint()
    for key, value in tags.items():
        if not key_rule.min_length <= len(key) <= key_rule.max_length:
            problems.append(
                f"tag key {key!r} must be {key_rule.min_length} to {key_rule.max_length} characters long"
            )
        elif key_rule.pattern and not key_rule.pattern.fullmatch(key):
            problems.append(
                f"tag key {key!r} must match {key_rule.pattern.pattern} "
                "(no 'aws:' prefix; letters, digits and + - = . _ : / only)"
            )
        elif key.lower().startswith(RESERVED_TAG_PREFIX):
            problems.append(
                f"tag key {key!r} uses the prefix {RESERVED_TAG_PREFIX!r}, kept for CopiedSnapshot"
            )
        if not isinstance(value, str):
            problems.append(f"tag {key!r} must have a string value, got {type(value).__name__}")
        elif not value_rule.min_length <= len(value) <= value_rule.max_length:
            problems.append(
                f"tag {key!r} value must be {value_rule.min_length} to {value_rule.max_length} "
                f"characters long, got {len(value)}"
            )
    return problems


def check_tags(tags: Mapping[str, str]) -> None:
    problems = tag_problems(tags)
    if problems:
        raise RuleViolation("invalid tags: " + "; ".join(problems))


@dataclass(frozen=True)
class SnapshotArn:
    """A docdb-elastic cluster-snapshot ARN, taken apart."""

    partition: str
    region: str
    account: str
    resource_id: str

    def __str__(self) -> str:
        return (
            f"arn:{self.partition}:{SERVICE}:{self.region}:{self.account}:cluster-snapshot/{self.resource_id}"
        )


def parse_snapshot_arn(value: str) -> SnapshotArn | None:
    match = _SNAPSHOT_ARN.fullmatch(value)
    if not match:
        return None
    return SnapshotArn(**match.groupdict())


def check_snapshot_arn(value: str, what: str = "source snapshot ARN") -> SnapshotArn:
    arn = parse_snapshot_arn(value)
    if arn is None:
        raise RuleViolation(
            f"invalid {what} {value!r}: must be a docdb-elastic cluster snapshot ARN, "
            "arn:<partition>:docdb-elastic:<region>:<account>:cluster-snapshot/<id>"
        )
    return arn


# DocumentDB Developer Guide, "Managing elastic cluster snapshots" > "Copying an elastic cluster snapshot":
# elastic cluster snapshots are copied "within the same region and within the same account". (The API page's
# paragraph on copying to another region is inherited from instance-based DocumentDB.)
SAME_PLACE_RULE = (
    "snapshots are copied within one region and account (DocumentDB Developer Guide: Copying an elastic "
    "cluster snapshot)"
)


def place_differences(arn: SnapshotArn, *, region: str | None, account: str | None) -> list[str]:
    """Where `arn` is instead of `region` and `account` (None: not known), e.g. "region us-west-2, not
    us-east-1"; empty when it is there."""
    return [
        f"{what} {actual}, not {expected}"
        for what, actual, expected in (("region", arn.region, region), ("account", arn.account, account))
        if expected is not None and actual != expected
    ]


def place_problem(source_snapshot_arn: str, *, region: str | None, account: str | None) -> str | None:
    """Why a copy made in `region` and `account` (None: not known) cannot have this source, or None.

    The construct asks at synth with what it knows; the handler asks at deploy time, for sources that were
    tokens at synth.
    """
    differences = place_differences(check_snapshot_arn(source_snapshot_arn), region=region, account=account)
    if not differences:
        return None
    return f"source snapshot {source_snapshot_arn} is in {' and '.join(differences)}: {SAME_PLACE_RULE}"


def valid_name_from(text: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """A valid target snapshot name made from `text`, for names nobody chose.

    Invalid characters become hyphens, runs of hyphens fold into one, and a letter is put first when
    the text does not start with one.
    """
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = "s-" + name if name else "snapshot"
    name = name[:max_length].rstrip("-")
    check_name(name)
    return name
