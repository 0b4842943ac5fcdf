"""Which resources the handler's policy names, kept within IAM's size limit however many copies a stack has.

A role's inline policies hold at most 10,240 characters. Each source snapshot ARN is listed while there are
few; past `MAX_LISTED_SOURCES` they are named by one wildcard per region and account instead. Keys are
capped the same way (`MAX_LISTED_KEYS`): with one distinct key per copy, 100 copies would overflow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import IStableListProducer

from copied_snapshot_runtime import rules

MAX_LISTED_SOURCES = 40


def snapshots_of(arn: str) -> str:
    """The wildcard for every cluster snapshot of the account and region of `arn`."""
    parsed = rules.check_snapshot_arn(arn)
    return f"arn:{parsed.partition}:{rules.SERVICE}:{parsed.region}:{parsed.account}:cluster-snapshot/*"


def source_resources(sources: Sequence[str], is_token: Callable[[str], bool]) -> list[str]:
    """The copy statement's resources: each source once; past the limit, wildcards; tokens as they are."""
    concrete = list(dict.fromkeys(source for source in sources if not is_token(source)))
    tokens = list(dict.fromkeys(source for source in sources if is_token(source)))
    if len(concrete) > MAX_LISTED_SOURCES:
        concrete = list(dict.fromkeys(snapshots_of(source) for source in concrete))
    return concrete + tokens


MAX_LISTED_KEYS = 40


@dataclass(frozen=True)
class KeyUse:
    """One `kms_key` as the policy names it.

    `arn` is the key's ARN (often a token) when the key is known, None for an alias imported by name only;
    `alias_name` is that alias; `every_key` is the wildcard for every key of the key's account and region.
    """

    arn: str | None
    alias_name: str | None
    every_key: str


@dataclass(frozen=True)
class KeyResources:
    """The key statement's resources, and the alias statement's (keys scoped by `kms:ResourceAliases`)."""

    keys: list[str]
    alias_keys: list[str]
    alias_names: list[str]  # StringLike patterns; "alias/*" once the keys are named by wildcards


def key_resources(uses: Sequence[KeyUse]) -> KeyResources:
    """Each key and alias once; past `MAX_LISTED_KEYS` of them, every key of their account and region.

    An alias ARN in a policy's Resource grants nothing on the key behind it: an alias imported by name is
    granted, as aws-cdk-lib's `Alias.fromAliasName(...).grant` does, on `key/*` of its account and region
    on condition that the key carries the alias (`kms:ResourceAliases`).
    """
    keys = list(dict.fromkeys(use.arn for use in uses if use.arn is not None))
    aliased = [use for use in uses if use.arn is None and use.alias_name is not None]
    alias_names = list(dict.fromkeys(use.alias_name for use in aliased if use.alias_name is not None))
    if len(keys) + len(alias_names) > MAX_LISTED_KEYS:
        every_key = list(dict.fromkeys(use.every_key for use in uses))
        return KeyResources(every_key, list(dict.fromkeys(use.every_key for use in aliased)), ["alias/*"])
    return KeyResources(keys, list(dict.fromkeys(use.every_key for use in aliased)), alias_names)


@jsii.implements(IStableListProducer)
class ListProducer:
    """Renders a list at synth time, once every copy has added to it."""

    def __init__(self, produce: Callable[[], list[str]]) -> None:
        self._produce = produce

    def produce(self) -> list[str]:
        return self._produce()
