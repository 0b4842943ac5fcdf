"""Running the CDK CLI against the local cloud's one endpoint, and never against anything else.

The CLI's AWS SDK takes its endpoint from `AWS_ENDPOINT_URL` (AWS SDKs and Tools Reference Guide,
"Service-specific endpoints"); without it the CLI would call the real AWS endpoints, so the environment it
runs with is built here from a loopback URL only, from scratch (no profile, no credentials of the user's).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.cloud import SECRET_ACCESS_KEY
from copied_snapshot_local_cloud.cloudformation.errors import InvalidRequest

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
    endpoint_url: str, account: str, region: str, *, cdk_home: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The CLI's environment: every AWS call to `endpoint_url` (loopback only), acting as `account`.

    `cdk_home` is the CLI's own folder (`CDK_HOME`): the CLI caches which account an access key is (in
    `~/.cdk/cache`), and a cache shared with real AWS work, or with a local cloud of other accounts, would
    be wrong. The user's AWS config and credentials files are out of reach too."""
    base = os.environ if base is None else base
    return {
        **{name: base[name] for name in _KEPT if name in base},
        "CDK_HOME": str(cdk_home),
        "AWS_CONFIG_FILE": str(cdk_home / "aws-config"),  # never written: no profile applies
        "AWS_SHARED_CREDENTIALS_FILE": str(cdk_home / "aws-credentials"),
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
    cdk_home: Path,
    timeout: float | None = 600.0,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Runs `cdk <arguments>` in `cwd` against the local cloud; answers its exit code and (`capture`) its
    output, which otherwise goes to ours as the CLI writes it."""
    cdk_home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(  # noqa: S603 - the pinned CLI, with arguments given by the caller
        [str(cdk), *arguments],
        cwd=cwd,
        env=cli_environment(endpoint_url, account, region, cdk_home=cdk_home),
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )


def find_cdk(given: str) -> Path:
    """The CLI to run: `given` as a path, or found on PATH (`./run.sh` puts the pinned one first)."""
    found = shutil.which(given)
    if found is None:
        raise InvalidRequest(
            f"no CDK CLI {given!r}: install it (`npm ci` in the project) or name it with --cdk"
        )
    return Path(found)


def cli_account(stacks: Sequence[Stack]) -> str:
    """The one account the CLI acts as for these stacks (its credentials are one account's)."""
    accounts = sorted({stack.account for stack in stacks})
    if len(accounts) != 1:
        raise InvalidRequest(
            f"the CDK CLI acts as one account here, and these stacks are in {', '.join(accounts) or 'none'}: "
            "deploy each account's stacks with --stacks"
        )
    return accounts[0]


def bootstrap_targets(stacks: Sequence[Stack]) -> list[str]:
    """`aws://ACCOUNT/REGION` for each environment the stacks deploy to, as `cdk bootstrap` takes them."""
    return sorted({f"aws://{stack.account}/{stack.region}" for stack in stacks})


def read_outputs(outputs_file: Path) -> dict[str, str]:
    """`cdk deploy --outputs-file`'s outputs as `STACK.OUTPUT` -> value (none when the file is missing)."""
    if not outputs_file.is_file():
        return {}
    written: dict[str, dict[str, str]] = json.loads(outputs_file.read_text())
    return {f"{stack}.{name}": value for stack, outputs in written.items() for name, value in outputs.items()}
