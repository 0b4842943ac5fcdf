"""Which source snapshots the handler's policy names."""

from __future__ import annotations

from copied_snapshot.policy_resources import MAX_LISTED_SOURCES, snapshots_of, source_resources

WEST = "arn:aws:docdb-elastic:us-west-2:123456789012:cluster-snapshot"
EAST = "arn:aws:docdb-elastic:us-east-1:210987654321:cluster-snapshot"
TOKEN = "${Token[TOKEN.123]}"


def is_token(value: str) -> bool:
    return value.startswith("${Token")


def test_few_sources_are_listed_once_each() -> None:
    sources = [f"{WEST}/a", f"{EAST}/b", f"{WEST}/a", TOKEN]
    assert source_resources(sources, is_token) == [f"{WEST}/a", f"{EAST}/b", TOKEN]


def test_many_sources_become_one_wildcard_per_region_and_account() -> None:
    sources = [f"{WEST}/s{i}" for i in range(MAX_LISTED_SOURCES)] + [f"{EAST}/x", TOKEN]
    assert source_resources(sources, is_token) == [f"{WEST}/*", f"{EAST}/*", TOKEN]


def test_up_to_the_limit_nothing_is_widened() -> None:
    sources = [f"{WEST}/s{i}" for i in range(MAX_LISTED_SOURCES)]
    assert source_resources(sources, is_token) == sources


def test_wildcard_of_an_arn() -> None:
    assert snapshots_of(f"{WEST}/abc") == f"{WEST}/*"
