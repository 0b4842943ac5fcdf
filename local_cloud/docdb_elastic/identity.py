"""Who is calling and where: the account and region of a request, read from its SigV4 credential scope.

Signatures are not verified (there are no real secrets here), but the scope decides the region the call acts
in, exactly as the endpoint would in AWS, so several regions coexist on one server. The account comes from the
access key: a key registered with `accounts`, or a key of 12 digits is that account, else the default account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from local_cloud.docdb_elastic import errors

DEFAULT_ACCOUNT = "123456789012"
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[^/]+)/"
)
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Caller:
    account: str
    region: str
    access_key: str

    @property
    def partition(self) -> str:
        return partition_of(self.region)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def caller_of(authorization: str | None, accounts: Mapping[str, str], default_account: str) -> Caller:
    """The caller named by an `Authorization` header; AccessDenied when the request is not signed."""
    match = _CREDENTIAL.search(authorization or "")
    if match is None:
        raise errors.access_denied("Missing Authentication Token: the request is not signed with SigV4")
    key = match["key"]
    account = accounts.get(key) or (key if _ACCOUNT.match(key) else default_account)
    return Caller(account=account, region=match["region"], access_key=key)
