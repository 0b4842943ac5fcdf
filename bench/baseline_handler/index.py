"""A copy handler written the way crhelper's README shows, for the latency benchmark to compare against.

`CfnResource` with the README's arguments and crhelper's defaults (polling_interval=2: a `rate(2 minutes)`
rule; sleep_on_delete=120: a Delete's answer waits 120 s for the logs): `create` starts the copy and
`poll_create` asks once per polling round whether it is ACTIVE; `delete` starts the deletion and
`poll_delete` asks once per round whether it is gone. No ownership checks, no retries of its own.
"""

import contextlib
from typing import Any

import boto3
from crhelper import CfnResource

helper = CfnResource(json_logging=False, log_level="DEBUG", boto_level="CRITICAL")
docdb = boto3.client("docdb-elastic")


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    properties = event["ResourceProperties"]
    copy = docdb.copy_cluster_snapshot(
        snapshotArn=properties["SourceSnapshotArn"], targetSnapshotName=properties["TargetSnapshotName"]
    )["snapshot"]
    return str(copy["snapshotArn"])


@helper.poll_create
def poll_create(event: dict[str, Any], context: Any) -> str | None:
    arn = str(event["CrHelperData"]["PhysicalResourceId"])
    status = docdb.get_cluster_snapshot(snapshotArn=arn)["snapshot"]["status"]
    if status == "ACTIVE":
        return arn
    if status not in ("CREATING", "COPYING"):
        raise RuntimeError(f"copy {arn} ended {status}")
    return None


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    return str(event["PhysicalResourceId"])


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    with contextlib.suppress(docdb.exceptions.ResourceNotFoundException):
        docdb.delete_cluster_snapshot(snapshotArn=event["PhysicalResourceId"])


@helper.poll_delete
def poll_delete(event: dict[str, Any], context: Any) -> bool | None:
    try:
        docdb.get_cluster_snapshot(snapshotArn=event["PhysicalResourceId"])
    except docdb.exceptions.ResourceNotFoundException:
        return True
    return None


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
