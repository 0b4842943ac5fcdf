"""The pinned CDK CLI against the local cloud's one endpoint: `cdk bootstrap`, `cdk deploy`, `cdk destroy`
of the example app, as a user runs them, and the guard that keeps the CLI on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from aws_cdk import App, Tags

import app as example_app
from copied_snapshot_local_cloud.cdk_cli import cli_environment, require_loopback, run_cdk
from copied_snapshot_local_cloud.cloud import SECRET_ACCESS_KEY, LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import InvalidRequest
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.docdb_elastic.state import Durations
from tests.support.apps import cdk_json_context
from tests.support.constants import CDK, ROOT

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
    environment = cli_environment("http://127.0.0.1:1", ACCOUNT, REGION, cdk_home=Path("/c"), base=ours)
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_ACCESS_KEY_ID"] == ACCOUNT
    assert environment["PATH"] == "/bin"
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"} & set(environment)
    # The CLI's account cache and the AWS config files are its own, not the user's.
    assert environment["CDK_HOME"] == "/c"
    assert (environment["AWS_CONFIG_FILE"], environment["AWS_SHARED_CREDENTIALS_FILE"]) == (
        "/c/aws-config",
        "/c/aws-credentials",
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("cli-cloud")
    with LocalCloud(
        state_dir, time_scale=240.0, durations=FAST, gateway=True, fresh=True, order=Order.hostile()
    ) as running:
        running.seed_source_snapshot(example_app.DEFAULT_SOURCE_SNAPSHOT_ARN, tags={"team": "orders"})
        yield running


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app synthesized with the real bundling and cdk.json's context, as `cdk synth` writes it."""
    app = App(outdir=str(tmp_path_factory.mktemp("cli-app") / "cdk.out"), context=cdk_json_context())
    example_app.build(app)
    return Path(app.synth().directory)


@pytest.fixture(scope="module")
def retagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app with one more tag on everything taggable, the copy too: an update in place."""
    app = App(outdir=str(tmp_path_factory.mktemp("cli-app-retagged") / "cdk.out"), context=cdk_json_context())
    example_app.build(app)
    Tags.of(app).add("release", "2")
    return Path(app.synth().directory)


def cdk(cloud: LocalCloud, *arguments: str, succeeds: bool = True) -> str:
    """The CLI's output; the test fails when the CLI's exit code says other than `succeeds`."""
    done = run_cdk(
        CDK,
        arguments,
        endpoint_url=cloud.gateway_url,
        account=ACCOUNT,
        region=REGION,
        cwd=ROOT,
        cdk_home=cloud.state_dir / "cdk-home",
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert (done.returncode == 0) is succeeds, output[-4000:]
    return output


def test_bootstrap_deploy_again_update_and_destroy(cloud: LocalCloud, assembly: Path, retagged: Path) -> None:
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

    # A changed tag, through UpdateStack this time: the copy is updated in place and keeps its ARN.
    cdk(cloud, "deploy", "--all", "--require-approval", "never", "--method=direct", "--app", str(retagged))
    statuses = {stack["StackName"]: stack["StackStatus"] for stack in cfn.describe_stacks()["Stacks"]}
    assert statuses == {
        "CDKToolkit": "CREATE_COMPLETE",
        "SnapshotCopyStack": "UPDATE_COMPLETE",
        "SnapshotConsumerStack": "UPDATE_COMPLETE",
    }
    copy_outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName="SnapshotCopyStack")["Stacks"][0]["Outputs"]
    }
    assert copy_outputs["CopyArn"] == copy_arn[1]
    docdb = cloud.client("docdb-elastic", REGION)
    assert docdb.list_tags_for_resource(resourceArn=copy_arn[1])["tags"]["release"] == "2"

    cdk(cloud, "destroy", "--all", "--force", "--app", str(assembly))
    names = {stack["StackName"] for stack in cfn.describe_stacks()["Stacks"]}
    assert names == {"CDKToolkit"}
    manual = cloud.client("docdb-elastic", REGION).list_cluster_snapshots(snapshotType="MANUAL")
    assert manual["snapshots"] == []


def test_a_failed_copy_rolls_back_and_the_cli_says_why(cloud: LocalCloud, assembly: Path) -> None:
    cdk(cloud, "bootstrap", f"aws://{ACCOUNT}/{REGION}")
    cloud.docdb.faults.end_copies("INACCESSIBLE_ENCRYPTION_CREDS", name="orders-kept-copy", times=1)
    output = cdk(
        cloud,
        "deploy",
        "SnapshotCopyStack",
        "--require-approval",
        "never",
        "--app",
        str(assembly),
        succeeds=False,
    )
    assert "CREATE_FAILED" in output and "INACCESSIBLE_ENCRYPTION_CREDS" in output, output[-4000:]
    assert "ROLLBACK_COMPLETE" in output, output[-4000:]
    cdk(cloud, "destroy", "SnapshotCopyStack", "--force", "--app", str(assembly))
