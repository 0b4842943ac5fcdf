"""The pinned CDK CLI against the local cloud's one endpoint: `cdk bootstrap`, `cdk deploy`, `cdk destroy`
of the example app, as a user runs them, and the guard that keeps the CLI on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from aws_cdk import App

import app as example_app
from local_cloud.cdk_cli import cli_environment, require_loopback, run_cdk
from local_cloud.cloud import SECRET_ACCESS_KEY, LocalCloud
from local_cloud.cloudformation.errors import InvalidRequest
from local_cloud.docdb_elastic.state import Durations
from tests.conftest import cdk_json_context

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
ACCOUNT = example_app.DEFAULT_ACCOUNT
REGION = example_app.DEFAULT_REGION
FAST = Durations(cluster=120, snapshot=120, copy=240, delete=120, restore=240, update=120)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4566", "http://127.8.9.1", "https://localhost:1234", "http://[::1]:80"]
)
def test_loopback_endpoints_are_accepted(url: str) -> None:
    assert require_loopback(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://cloudformation.us-east-1.amazonaws.com",
        "http://10.0.0.1:4566",
        "http://localhost.example.com",
        "ftp://127.0.0.1",
    ],
)
def test_anything_but_loopback_is_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="only against the local cloud on loopback"):
        require_loopback(url)


def test_the_cli_gets_no_aws_setting_of_ours() -> None:
    ours = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "t",
        "AWS_ENDPOINT_URL_S3": "https://x",
    }
    environment = cli_environment("http://127.0.0.1:1", ACCOUNT, REGION, base=ours)
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_ACCESS_KEY_ID"] == ACCOUNT
    assert environment["PATH"] == "/bin"
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"} & set(environment)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("cli-cloud")
    with LocalCloud(state_dir, time_scale=240.0, durations=FAST, gateway=True, fresh=True) as running:
        running.seed_source_snapshot(example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, tags={"team": "orders"})
        yield running


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app synthesized with the real bundling and cdk.json's context, as `cdk synth` writes it."""
    app = App(outdir=str(tmp_path_factory.mktemp("cli-app") / "cdk.out"), context=cdk_json_context())
    example_app.build(app)
    return Path(app.synth().directory)


def cdk(cloud: LocalCloud, *arguments: str) -> str:
    done = run_cdk(
        CDK, arguments, endpoint_url=cloud.gateway_url, account=ACCOUNT, region=REGION, cwd=ROOT, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def test_bootstrap_deploy_again_and_destroy(cloud: LocalCloud, assembly: Path) -> None:
    bootstrapped = cdk(cloud, "bootstrap", f"aws://{ACCOUNT}/{REGION}")
    assert f"Environment aws://{ACCOUNT}/{REGION} bootstrapped" in bootstrapped
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=cloud.gateway_url,
        region_name=REGION,
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    assert cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    deployed = cdk(cloud, "deploy", "--all", "--require-approval", "never", "--app", str(assembly))
    copy_arn = re.search(r"SnapshotConsumerStack\.RestoreSnapshotArn = (\S+)", deployed)
    assert copy_arn is not None, deployed[-4000:]
    assert copy_arn[1].startswith(f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/")
    [copy_stack] = cfn.describe_stacks(StackName="SnapshotCopyStack")["Stacks"]
    assert copy_stack["StackStatus"] == "CREATE_COMPLETE"
    # The function ran the code the CLI uploaded to the staging bucket.
    staged = cloud.state_dir / "function-code" / f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    assert [path.suffix for path in staged.iterdir()] == [".zip"]

    again = cdk(cloud, "deploy", "--all", "--require-approval", "never", "--app", str(assembly))
    assert again.count("(no changes)") == 2, again[-4000:]

    cdk(cloud, "destroy", "--all", "--force", "--app", str(assembly))
    names = {stack["StackName"] for stack in cfn.describe_stacks()["Stacks"]}
    assert names == {"CDKToolkit"}
    manual = cloud.client("docdb-elastic", REGION).list_cluster_snapshots(snapshotType="MANUAL")
    assert manual["snapshots"] == []


def test_a_failed_copy_rolls_back_and_the_cli_says_why(cloud: LocalCloud, assembly: Path) -> None:
    cdk(cloud, "bootstrap", f"aws://{ACCOUNT}/{REGION}")
    cloud.docdb.faults.end_copies("INACCESSIBLE_ENCRYPTION_CREDS", name="orders-kept-copy", times=1)
    failed = run_cdk(
        CDK,
        ["deploy", "SnapshotCopyStack", "--require-approval", "never", "--app", str(assembly)],
        endpoint_url=cloud.gateway_url,
        account=ACCOUNT,
        region=REGION,
        cwd=ROOT,
        timeout=300,
    )
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-4000:]
    assert "CREATE_FAILED" in output and "INACCESSIBLE_ENCRYPTION_CREDS" in output, output[-4000:]
    assert "ROLLBACK_COMPLETE" in output, output[-4000:]
    cdk(cloud, "destroy", "SnapshotCopyStack", "--force", "--app", str(assembly))
