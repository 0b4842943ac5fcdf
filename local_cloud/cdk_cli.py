"""Running the CDK CLI against the local cloud's one endpoint, and never against anything else.

The CLI's AWS SDK takes its endpoint from `AWS_ENDPOINT_URL` (AWS SDKs and Tools Reference Guide,
"Service-specific endpoints"); without it the CLI would call the real AWS endpoints, so the environment it
runs with is built here from a loopback URL only, from scratch (no profile, no credentials of the user's).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from local_cloud.cloud import SECRET_ACCESS_KEY
from local_cloud.cloudformation.errors import InvalidRequest

# What the CLI's process keeps from ours: where programs and node are, and nothing about AWS.
_KEPT = ("PATH", "HOME", "LANG", "TMPDIR", "JSII_NODE", "NODE_OPTIONS")


def require_loopback(endpoint_url: str) -> str:
    """The URL when it names a loopback address (`127.0.0.0/8`, `::1`, `localhost`); InvalidRequest else."""
    host = urlsplit(endpoint_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if urlsplit(endpoint_url).scheme not in ("http", "https") or not loopback:
        raise InvalidRequest(
            f"the CDK CLI runs only against the local cloud on loopback, not {endpoint_url!r}"
        )
    return endpoint_url


def cli_environment(
    endpoint_url: str, account: str, region: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The CLI's environment: every AWS call to `endpoint_url` (loopback only), acting as `account`."""
    base = os.environ if base is None else base
    return {
        **{name: base[name] for name in _KEPT if name in base},
        "AWS_ENDPOINT_URL": require_loopback(endpoint_url),
        "AWS_ACCESS_KEY_ID": account,  # a key of 12 digits is that account (the local cloud's accounts)
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }


def run_cdk(
    cdk: Path,
    arguments: Sequence[str],
    *,
    endpoint_url: str,
    account: str,
    region: str,
    cwd: Path,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess[str]:
    """Runs `cdk <arguments>` in `cwd` against the local cloud; answers its exit code and output."""
    return subprocess.run(  # noqa: S603 - the pinned CLI, with arguments given by the caller
        [str(cdk), *arguments],
        cwd=cwd,
        env=cli_environment(endpoint_url, account, region),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
