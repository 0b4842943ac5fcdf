"""What many tests share: where the project is, and the account and region they deploy to."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = ROOT / "cdk.json"
CDK = ROOT / "node_modules" / ".bin" / "cdk"  # the pinned CDK CLI (package.json)

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"


def snapshot_arn(name: str, *, account: str = ACCOUNT, region: str = REGION) -> str:
    """A docdb-elastic cluster snapshot's ARN in the tests' account and region unless told otherwise."""
    return f"arn:aws:docdb-elastic:{region}:{account}:cluster-snapshot/{name}"
