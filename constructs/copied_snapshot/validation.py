"""Synth-time checks: the shared API rules applied to the values known at synth; tokens are left alone."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_kms as kms

from copied_snapshot_runtime import properties, rules
from copied_snapshot_runtime.rules import RuleViolation

SUPPORTED_REMOVAL_POLICIES = (
    RemovalPolicy.DESTROY,
    RemovalPolicy.RETAIN,
    RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
)


def check_snapshot_arn(value: str, what: str = "source snapshot ARN") -> None:
    if not Token.is_unresolved(value):
        rules.check_snapshot_arn(value, what)


def check_target_name(value: str) -> None:
    if not Token.is_unresolved(value):
        rules.check_name(value)


def resolved_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags whose key and value are both known at synth time."""
    return {
        key: value
        for key, value in tags.items()
        if not Token.is_unresolved(key) and not Token.is_unresolved(value)
    }


def check_tags(tags: Mapping[str, str]) -> None:
    rules.check_tags(resolved_tags(tags))


def check_removal_policy(policy: RemovalPolicy) -> None:
    if policy not in SUPPORTED_REMOVAL_POLICIES:
        raise RuleViolation(
            f"removal policy {policy.name} is not supported: a snapshot copy cannot itself be snapshotted; "
            "use DESTROY (delete the copy with the stack) or RETAIN (keep it)"
        )


def timeout_seconds(timeout: Duration | None) -> int:
    """The handler's timeout in whole seconds, within what CloudFormation's ServiceTimeout can honour."""
    if timeout is None:
        return properties.DEFAULT_TIMEOUT_SECONDS
    seconds = timeout.to_seconds()
    if not properties.MIN_TIMEOUT_SECONDS <= seconds <= properties.MAX_TIMEOUT_SECONDS:
        raise RuleViolation(
            f"timeout of {seconds} seconds is out of range: must be {properties.MIN_TIMEOUT_SECONDS} to "
            f"{properties.MAX_TIMEOUT_SECONDS} seconds, since CloudFormation waits at most 3600 seconds "
            f"for a custom resource and {properties.SERVICE_TIMEOUT_MARGIN_SECONDS} are kept for the "
            "handler's answer"
        )
    return int(seconds)


def check_key_region(key: kms.IKey, stack: Stack) -> None:
    """A copy is encrypted in the stack's region, and KMS keys never leave their region."""
    key_region, stack_region = key.env.region, stack.region
    if Token.is_unresolved(key_region) or Token.is_unresolved(stack_region):
        return
    if key_region != stack_region:
        raise RuleViolation(
            f"kms key {key.node.path} is in {key_region} but the copy is made in {stack_region}: "
            "a copy must be encrypted with a key of its own region"
        )


def check_unique_name(name: str, path: str, taken: Mapping[str, str]) -> None:
    """Names are unique per account and region ignoring case; `taken` maps lowercase names to paths."""
    if Token.is_unresolved(name):
        return
    other = taken.get(name.lower())
    if other is not None and other != path:
        raise RuleViolation(
            f"target snapshot name {name!r} of {path} is already used by {other} "
            "(snapshot names are not case sensitive)"
        )
