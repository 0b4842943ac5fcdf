"""The local docdb-elastic service from the outside: the AWS CLI against it, its own CLI, its control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.constants import ACCOUNT, REGION
from tests.support.local_service import SOURCE_REGION, Served, http, signed


def aws(served: Served, tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI (from PyPI), configured only by the standard environment variables."""
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL_DOCDB_ELASTIC": served.service.endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCOUNT,
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "awscli", "docdb-elastic", *arguments, "--output", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def aws_copy(
    served: Served, tmp_path: Path, source: str, name: str, *options: str
) -> subprocess.CompletedProcess[str]:
    command = ["copy-cluster-snapshot", "--snapshot-arn", source, "--target-snapshot-name", name]
    return aws(served, tmp_path, *command, *options)


def test_aws_cli_copies_lists_tags_and_deletes(served: Served, tmp_path: Path) -> None:
    source = served.seed_snapshot(tags={"team": "data"})
    copied = aws_copy(served, tmp_path, source, "cli-copy", "--copy-tags", "--tags", "purpose=dr")
    assert copied.returncode == 0, copied.stderr
    arn = json.loads(copied.stdout)["snapshot"]["snapshotArn"]
    listed = aws(served, tmp_path, "list-cluster-snapshots")
    assert [item["snapshotName"] for item in json.loads(listed.stdout)["snapshots"]] == ["source", "cli-copy"]
    tags = aws(served, tmp_path, "list-tags-for-resource", "--resource-arn", arn)
    assert json.loads(tags.stdout)["tags"] == {"team": "data", "purpose": "dr"}
    deleted = aws(served, tmp_path, "delete-cluster-snapshot", "--snapshot-arn", arn)
    assert json.loads(deleted.stdout)["snapshot"]["status"] == "DELETING"


def test_aws_cli_restores_lists_updates_and_deletes_clusters(served: Served, tmp_path: Path) -> None:
    source = served.seed_snapshot()
    restore = ["restore-cluster-from-snapshot", "--snapshot-arn", source, "--cluster-name", "From-CLI"]
    restored = aws(served, tmp_path, *restore, "--subnet-ids", "subnet-1", "subnet-2", "--tags", "env=dev")
    assert restored.returncode == 0, restored.stderr
    cluster = json.loads(restored.stdout)["cluster"]
    assert (cluster["clusterName"], cluster["subnetIds"]) == ("from-cli", ["subnet-1", "subnet-2"])
    listed = json.loads(aws(served, tmp_path, "list-clusters").stdout)["clusters"]
    assert [(item["clusterName"], item["status"]) for item in listed] == [("from-cli", "ACTIVE")]
    arn = cluster["clusterArn"]
    updated = aws(served, tmp_path, "update-cluster", "--cluster-arn", arn, "--shard-capacity", "4")
    assert json.loads(updated.stdout)["cluster"]["shardCapacity"] == 4
    deleted = aws(served, tmp_path, "delete-cluster", "--cluster-arn", arn)
    assert json.loads(deleted.stdout)["cluster"]["status"] == "DELETING"


def test_aws_cli_shows_the_services_error(served: Served, tmp_path: Path) -> None:
    source = served.seed_snapshot()
    refused = aws_copy(served, tmp_path, source, "SOURCE")
    assert refused.returncode != 0
    assert (
        "An error occurred (ConflictException) when calling the CopyClusterSnapshot operation"
        in refused.stderr
    )
    assert "A snapshot named source already exists" in refused.stderr


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    seeds = tmp_path / "seed.json"
    seeds.write_text(
        json.dumps({"snapshots": [{"account": ACCOUNT, "region": SOURCE_REGION, "name": "orders-nightly"}]})
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "faults": [
                    {"kind": "fail", "operation": "GetClusterSnapshot", "times": 1},
                    {"kind": "restore-status", "status": "INVALID_SUBNET_ID", "name": "bad-*"},
                ]
            }
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copied_snapshot_local_cloud.docdb_elastic",
            "--seed",
            "5",
            "--copy-seconds",
            "60",
            "--restore-seconds",
            "45",
            "--update-seconds",
            "15",
            "--seed-file",
            str(seeds),
            "--config-file",
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    assert first.startswith("docdb-elastic listening on http://127.0.0.1:"), first
    try:
        yield process, first.rsplit(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_server_from_the_cli_is_seeded_configured_and_controllable(
    standalone: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = standalone
    assert process.stdout is not None
    seeded = process.stdout.readline().split()[-1]
    assert seeded.startswith(f"arn:aws:docdb-elastic:{SOURCE_REGION}:{ACCOUNT}:cluster-snapshot/")
    path = f"{url}/cluster-snapshot/{seeded.replace('/', '%2F')}"
    west = signed(region=SOURCE_REGION)
    status, first = http("GET", path, headers=west)
    assert (status, first["headers"]["x-amzn-ErrorType"]) == (500, "InternalServerException")
    status, second = http("GET", path, headers=west)
    assert (status, second["snapshot"]["status"]) == (200, "ACTIVE")
    status, elsewhere = http("GET", path, headers=signed())
    assert (status, elsewhere["body"]["message"]) == (404, f"The cluster-snapshot {seeded} was not found")
    status, state = http("GET", f"{url}/_local/state")
    assert (state["durations"]["copy"], state["durations"]["restore"], state["durations"]["update"]) == (
        60.0,
        45.0,
        15.0,
    )
    assert state["faults"]["restores"] == [
        {"name": "bad-*", "final_status": "INVALID_SUBNET_ID", "remaining": None, "late": 0.0}
    ]
    assert [snapshot["snapshotName"] for snapshot in state["snapshots"]] == ["orders-nightly"]
    status, calls = http("GET", f"{url}/_local/calls")
    assert [(call["operation"], call["outcome"], call["region"]) for call in calls] == [
        ("GetClusterSnapshot", "InternalServerException", SOURCE_REGION),
        ("GetClusterSnapshot", "OK", SOURCE_REGION),
        ("GetClusterSnapshot", "ResourceNotFoundException", REGION),
    ]
    process.terminate()
    assert process.wait(timeout=10) == 0


def test_control_api_seeds_configures_injects_and_resets(served: Served) -> None:
    status, seeded = served.control(
        "POST",
        "seed",
        {
            "clusters": [{"account": ACCOUNT, "region": REGION, "name": "orders"}],
            "snapshots": [{"account": ACCOUNT, "region": REGION, "name": "nightly", "tags": {"a": "b"}}],
        },
    )
    assert status == 200
    assert served.client.get_cluster(clusterArn=seeded["clusters"][0])["cluster"]["clusterName"] == "orders"
    body: dict[str, Any] = {
        "durations": {"copy": 15, "restore": 20},
        "snapshotQuota": 7,
        "faults": [
            {"kind": "latency", "seconds": 0.01},
            {"kind": "copy-stall", "name": "stuck"},
            {"kind": "restore-stall", "name": "stuck"},
        ],
    }
    assert served.control("POST", "config", body)[0] == 200
    stuck = served.client.restore_cluster_from_snapshot(
        snapshotArn=seeded["snapshots"][0], clusterName="stuck"
    )
    served.clock.advance(10**6)
    status, state = served.control("GET", "state")
    assert (state["durations"]["copy"], state["durations"]["restore"], state["snapshotQuota"]) == (15, 20, 7)
    assert [(item["clusterName"], item["status"], item["port"]) for item in state["clusters"]] == [
        ("orders", "ACTIVE", 27017),
        ("stuck", "CREATING", 27017),
    ]
    assert state["clusters"][1]["clusterArn"] == stuck["cluster"]["clusterArn"]
    assert state["faults"]["latency"] == {"*": 0.01}
    assert state["snapshots"][0]["tags"] == {"a": "b"}
    assert served.control("DELETE", "faults")[0] == 200
    assert served.control("GET", "state")[1]["faults"]["latency"] == {}
    status, refused = served.control("POST", "config", {"durations": {"teleport": 1}})
    assert status == 400
    assert "durations are non-negative seconds" in refused["body"]["message"]
    status, refused = served.control("POST", "seed", {"snapshots": [{"account": ACCOUNT, "name": "x"}]})
    assert (status, refused["body"]["message"]) == (400, "KeyError: 'region'")
    assert served.control("POST", "reset", {"seed": 9})[0] == 200
    assert served.control("GET", "state")[1]["snapshots"] == []
    assert served.control("GET", "calls")[1] == []
    assert served.control("GET", "nothing-here")[0] == 404
