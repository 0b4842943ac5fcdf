"""Who is calling and where: the account and region of a request, read from its SigV4 credential scope.

Signatures are not verified (there are no real secrets here), but the scope decides the region the call acts
in, exactly as the endpoint would in AWS, so several regions coexist on one server. The account comes from the
access key: a key registered with `accounts`, or a key of 12 digits is that account, else the default account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from copied_snapshot_local_cloud.docdb_elastic import errors

DEFAULT_ACCOUNT = "123456789012"
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[^/]+)/"
)
ACCOUNT_ID = re.compile(r"\d{12}")  # an account id, and an access key that acts as one
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
# The partitions an ARN may name, with the names of their regions (the patterns of botocore's partitions
# data). Anything else (`arn:awsfoo:`) is no ARN of AWS.
PARTITION_REGIONS = {
    "aws": re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+"),
    "aws-cn": re.compile(r"cn-\w+-\d+"),
    "aws-us-gov": re.compile(r"us-gov-\w+-\d+"),
    "aws-iso": re.compile(r"us-iso-\w+-\d+"),
    "aws-iso-b": re.compile(r"us-isob-\w+-\d+"),
    "aws-iso-e": re.compile(r"eu-isoe-\w+-\d+"),
    "aws-iso-f": re.compile(r"us-isof-\w+-\d+"),
}


@dataclass(frozen=True)
class Caller:
    account: str
    region: str

    @property
    def partition(self) -> str:
        return partition_of(self.region)


def partition_of(region: str) -> str:
    """The partition of a region; `aws` for a name no partition claims (a made-up region of a test)."""
    return next(
        (partition for partition, regions in PARTITION_REGIONS.items() if regions.fullmatch(region)), "aws"
    )


def acting_in(account: str, region: str) -> Caller:
    """A caller of any account (12 digits) in a region, for seeding; ValueError for anything else, which
    would make ARNs no client could name."""
    if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"account must be 12 digits, got {account!r}")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region must be a region name such as us-east-1, got {region!r}")
    return Caller(account=account, region=region)


def caller_of(
    authorization: str | None,
    accounts: Mapping[str, str],
    default_account: str,
    other_key: Callable[[str], str] | None = None,
) -> Caller:
    """The caller named by an `Authorization` header; AccessDenied when the request is not signed. A key is
    the account `accounts` gives it, or the account it is (12 digits), or `other_key(key)`'s, or
    `default_account`."""
    match = _CREDENTIAL.search(authorization or "")
    if match is None:
        raise errors.access_denied("Missing Authentication Token: the request is not signed with SigV4")
    key = match["key"]
    if key in accounts:
        account = accounts[key]
    elif ACCOUNT_ID.fullmatch(key):
        account = key
    else:
        account = other_key(key) if other_key else default_account
    return Caller(account=account, region=match["region"])
