"""Which source snapshots the handler's policy names."""

from __future__ import annotations

from copied_snapshot.policy_resources import (
    MAX_LISTED_KEYS,
    MAX_LISTED_SOURCES,
    KeyResources,
    KeyUse,
    key_resources,
    snapshots_of,
    source_resources,
)

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


def key(index: int) -> KeyUse:
    return KeyUse(arn=f"arn:aws:kms:us-east-1:123456789012:key/{index}", alias_name=None, every_key=EVERY_KEY)


EVERY_KEY = "arn:aws:kms:us-east-1:123456789012:key/*"


def test_keys_are_listed_once_each_up_to_the_limit() -> None:
    uses = [key(i) for i in range(MAX_LISTED_KEYS)] + [key(0)]
    assert key_resources(uses) == KeyResources(
        [f"{EVERY_KEY[:-1]}{i}" for i in range(MAX_LISTED_KEYS)], [], []
    )


def test_aliases_known_by_name_only_are_granted_on_the_keys_that_carry_them() -> None:
    alias = KeyUse(arn=None, alias_name="alias/orders", every_key=EVERY_KEY)
    assert key_resources([key(1), alias, alias]) == KeyResources(
        [f"{EVERY_KEY[:-1]}1"], [EVERY_KEY], ["alias/orders"]
    )


def test_past_the_limit_keys_and_aliases_become_every_key_of_their_account_and_region() -> None:
    alias = KeyUse(arn=None, alias_name="alias/orders", every_key=EVERY_KEY)
    uses = [key(i) for i in range(MAX_LISTED_KEYS)] + [alias]
    assert key_resources(uses) == KeyResources([EVERY_KEY], [EVERY_KEY], ["alias/*"])
