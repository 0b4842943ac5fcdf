"""Which resources the handler's policy names, kept within IAM's size limit however many copies a stack has.

A role's inline policies hold at most 10,240 characters. Each source snapshot ARN is listed while there are
few; past `MAX_LISTED_SOURCES` they are named by one wildcard per region and account instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


@jsii.implements(IStableListProducer)
class ListProducer:
    """Renders a list at synth time, once every copy has added to it."""

    def __init__(self, produce: Callable[[], list[str]]) -> None:
        self._produce = produce

    def produce(self) -> list[str]:
        return self._produce()
