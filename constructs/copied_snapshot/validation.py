"""Synth-time checks: the shared API rules applied to the values known at synth; tokens are left alone."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_kms as kms

from copied_snapshot_runtime import polling, properties, rules
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


def check_copy_tags(copy_tags: object) -> None:
    """The handler reads CopyTags as a boolean: anything else (a string "false", 1) is refused here."""
    if not isinstance(copy_tags, bool):
        raise RuleViolation(f"copy_tags must be True or False, got {copy_tags!r}")


def timeout_seconds(timeout: Duration | None) -> int | float:
    """The handler's timeout in whole seconds, within what CloudFormation's ServiceTimeout can honour.

    A token (a Duration of an unresolved number) is passed on as it is: the handler checks TimeoutSeconds
    when it is known, at deploy time. Only a token in seconds can be passed on, since a template cannot
    multiply.
    """
    if timeout is None:
        return properties.DEFAULT_TIMEOUT_SECONDS
    if timeout.is_unresolved():
        try:
            return timeout.to_seconds()
        except RuntimeError as error:
            raise RuleViolation(
                f"timeout {timeout} is a token in another unit than seconds: give it as "
                "Duration.seconds(token), since a template cannot convert it"
            ) from error
    seconds = timeout.to_seconds()
    if not properties.MIN_TIMEOUT_SECONDS <= seconds <= properties.MAX_TIMEOUT_SECONDS:
        raise RuleViolation(
            f"timeout of {seconds} seconds is out of range: must be {properties.MIN_TIMEOUT_SECONDS} to "
            f"{properties.MAX_TIMEOUT_SECONDS} seconds, since CloudFormation waits at most 3600 seconds "
            f"for a custom resource and {properties.SERVICE_TIMEOUT_MARGIN_SECONDS} are kept for the "
            "handler's answer"
        )
    return int(seconds)


def polling_interval_seconds(interval: Duration | None) -> int | float | None:
    """The polling interval in whole seconds, in the handler's range; None leaves the handler's default.

    As for the timeout, a token in seconds is passed on for the handler to check at deploy time.
    """
    if interval is None:
        return None
    if interval.is_unresolved():
        try:
            return interval.to_seconds()
        except RuntimeError as error:
            raise RuleViolation(
                f"polling_interval {interval} is a token in another unit than seconds: give it as "
                "Duration.seconds(token), since a template cannot convert it"
            ) from error
    seconds = interval.to_seconds(integral=False)
    try:
        polling.check_interval(seconds)
    except polling.InvalidInterval as error:
        raise RuleViolation(f"polling_interval: {error}") from None
    return int(seconds)


def check_key_region(key: kms.IKey, stack: Stack, what: str = "copy") -> None:
    """A copy (or cluster) is encrypted in the stack's region, and KMS keys never leave their region."""
    key_region, stack_region = key.env.region, stack.region
    if Token.is_unresolved(key_region) or Token.is_unresolved(stack_region):
        return
    if key_region != stack_region:
        raise RuleViolation(
            f"kms key {key.node.path} is in {key_region} but the {what} is made in {stack_region}: "
            f"a {what} must be encrypted with a key of its own region"
        )


def check_source_in_stack_environment(source_snapshot_arn: str, stack: Stack) -> None:
    """A source whose region or account is known must be the stack's; tokens are left to the handler."""
    if Token.is_unresolved(source_snapshot_arn):
        return
    problem = rules.place_problem(
        source_snapshot_arn, region=known(stack.region), account=known(stack.account)
    )
    if problem:
        raise RuleViolation(problem)


def known(value: str) -> str | None:
    """`value`, or None when it is a token (an environment-agnostic stack's region or account)."""
    return None if Token.is_unresolved(value) else value


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
