"""Clusters of the local docdb-elastic service: restored from snapshots, listed, updated and deleted, with
statuses moving with its clock, through an unchanged boto3 client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from copied_snapshot_local_cloud.docdb_elastic.state import default_key_arn
from tests.support.constants import ACCOUNT, OTHER_ACCOUNT, REGION
from tests.support.local_service import (
    COPY_KEY,
    SOURCE_KEY,
    Served,
    http,
    signed,
)

SUBNETS = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
GROUPS = ["sg-0123abcd"]


def snapshot_of_a_cluster(served: Served, **cluster: Any) -> str:
    """An ACTIVE snapshot of a new cluster with the given CreateCluster members."""
    made = served.client.create_cluster(
        clusterName="source",
        adminUserName="owner",
        adminUserPassword="correct-horse-battery",
        authType="SECRET_ARN",
        **{"shardCapacity": 8, "shardCount": 2, "shardInstanceCount": 3, **cluster},
    )["cluster"]
    snapshot = served.client.create_cluster_snapshot(clusterArn=made["clusterArn"], snapshotName="nightly")
    return str(snapshot["snapshot"]["snapshotArn"])


def restore(served: Served, snapshot: str, name: str = "restored", **options: Any) -> dict[str, Any]:
    return dict(
        served.client.restore_cluster_from_snapshot(snapshotArn=snapshot, clusterName=name, **options)[
            "cluster"
        ]
    )


def status_of(served: Served, arn: str) -> str:
    return str(served.client.get_cluster(clusterArn=arn)["cluster"]["status"])


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(raised.value.response)


# -- restoring -----------------------------------------------------------------------------------------------


def test_restore_is_creating_then_active_after_the_restore_duration(served: Served) -> None:
    snapshot = snapshot_of_a_cluster(served, kmsKeyId=COPY_KEY)
    served.service.backend.configure(durations={"restore": 600})
    cluster = restore(
        served, snapshot, subnetIds=SUBNETS, vpcSecurityGroupIds=GROUPS, tags={"env": "staging"}
    )
    assert cluster["status"] == "CREATING"
    assert cluster["clusterArn"].startswith(f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/")
    assert cluster["clusterEndpoint"] == f"restored-{ACCOUNT}.{REGION}.docdb-elastic.amazonaws.com"
    # Settings the request leaves out are the snapshot's cluster's; subnets and groups are as given.
    assert (cluster["adminUserName"], cluster["authType"]) == ("owner", "SECRET_ARN")
    assert (cluster["shardCapacity"], cluster["shardCount"], cluster["shardInstanceCount"]) == (8, 2, 3)
    assert (cluster["subnetIds"], cluster["vpcSecurityGroupIds"]) == (SUBNETS, GROUPS)
    # Without a key: the account's default key of the region (model docs), not the snapshot's.
    assert cluster["kmsKeyId"] == default_key_arn(ACCOUNT, REGION)
    served.clock.advance(599)
    assert status_of(served, cluster["clusterArn"]) == "CREATING"
    served.clock.advance(1)
    assert status_of(served, cluster["clusterArn"]) == "ACTIVE"
    assert served.client.list_tags_for_resource(resourceArn=cluster["clusterArn"])["tags"] == {
        "env": "staging"
    }
    state = served.service.backend.state()["clusters"]
    assert [(item["clusterName"], item["port"]) for item in state] == [("source", 27017), ("restored", 27017)]


def test_restore_takes_capacity_instances_and_key_from_the_request(served: Served) -> None:
    snapshot = snapshot_of_a_cluster(served)
    cluster = restore(served, snapshot, shardCapacity=16, shardInstanceCount=2, kmsKeyId=COPY_KEY)
    assert (cluster["shardCapacity"], cluster["shardCount"], cluster["shardInstanceCount"]) == (16, 2, 2)
    assert cluster["kmsKeyId"] == COPY_KEY
    assert cluster["status"] == "ACTIVE"
    source = served.service.backend.state()["snapshots"][0]
    assert (cluster["subnetIds"], cluster["vpcSecurityGroupIds"]) == (
        source["subnetIds"],
        source["vpcSecurityGroupIds"],
    )


def test_a_seeded_snapshot_restores_with_its_clusters_settings(served: Served) -> None:
    big = {"account": ACCOUNT, "region": REGION, "name": "big", "shardCapacity": 32, "adminUserName": "dba"}
    seeded = served.service.seed({"clusters": [big]})
    snapshot = served.seed_snapshot("of-big", cluster_arn=seeded["clusters"][0])
    assert served.client.get_cluster_snapshot(snapshotArn=snapshot)["snapshot"]["adminUserName"] == "dba"
    restored = restore(served, snapshot)
    assert (restored["shardCapacity"], restored["adminUserName"]) == (32, "dba")


@pytest.mark.parametrize("name", ["1st", "ends-", "two--hyphens", "under_score", "x" * 64, "abc\n"])
def test_cluster_names_follow_the_documented_rules(served: Served, name: str) -> None:
    with pytest.raises(served.client.exceptions.ValidationException) as raised:
        restore(served, served.seed_snapshot(), name)
    assert [field["name"] for field in error_of(raised)["fieldList"]] == ["clusterName"]
    assert served.service.backend.state()["clusters"] == []


def test_cluster_names_are_stored_lowercase_and_unique_per_account_and_region(served: Served) -> None:
    snapshot = served.seed_snapshot()
    cluster = restore(served, snapshot, "Staging-DB")
    assert cluster["clusterName"] == "staging-db"
    assert cluster["clusterEndpoint"].startswith(f"staging-db-{ACCOUNT}.")
    with pytest.raises(served.client.exceptions.ConflictException) as raised:
        restore(served, snapshot, "STAGING-db")
    assert (error_of(raised)["resourceId"], error_of(raised)["resourceType"]) == (
        cluster["clusterArn"],
        "cluster",
    )
    # Another account has names of its own.
    theirs = served.service.backend.seed_snapshot(account=OTHER_ACCOUNT, region=REGION, name="theirs").arn
    other = served.service.client(region=REGION, account=OTHER_ACCOUNT)
    assert other.restore_cluster_from_snapshot(snapshotArn=theirs, clusterName="staging-db")["cluster"]


def test_restoring_from_a_snapshot_that_is_not_active_is_a_conflict(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 60})
    copying = served.client.copy_cluster_snapshot(
        snapshotArn=served.seed_snapshot(), targetSnapshotName="copy"
    )
    with pytest.raises(served.client.exceptions.ConflictException, match="is COPYING, not ACTIVE"):
        restore(served, copying["snapshot"]["snapshotArn"])
    failed = served.seed_snapshot("failed", status="INACCESSIBLE_ENCRYPTION_CREDS")
    with pytest.raises(served.client.exceptions.ConflictException, match="INACCESSIBLE_ENCRYPTION_CREDS"):
        restore(served, failed)


def test_restoring_from_an_unknown_snapshot_or_another_resource(served: Served) -> None:
    missing = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/missing"
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        restore(served, missing)
    with pytest.raises(served.client.exceptions.ValidationException, match="not a cluster snapshot ARN"):
        restore(served, f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/a-cluster")
    with pytest.raises(served.client.exceptions.ValidationException, match="is in us-west-2"):
        restore(served, served.seed_snapshot(), kmsKeyId=SOURCE_KEY)


@pytest.mark.parametrize(
    ("options", "member"),
    [
        ({"shardCapacity": 3}, "shardCapacity"),
        ({"shardCapacity": 128}, "shardCapacity"),
        ({"shardInstanceCount": 0}, "shardInstanceCount"),
        ({"shardInstanceCount": 17}, "shardInstanceCount"),
    ],
)
def test_restore_shard_rules_from_the_model_docs(
    served: Served, options: dict[str, Any], member: str
) -> None:
    with pytest.raises(served.client.exceptions.ValidationException) as raised:
        restore(served, served.seed_snapshot(), **options)
    assert [field["name"] for field in error_of(raised)["fieldList"]] == [member]


def test_restore_members_are_validated_from_the_model(served: Served) -> None:
    # boto3 checks required members itself, so this request is sent as raw HTTP.
    status, answer = http(
        "POST",
        f"{served.service.endpoint_url}/cluster-snapshot/arn%3Aaws/restore",
        {"shardCapacity": "two", "subnetIds": "subnet-1"},
        signed(),
    )
    assert status == 400
    assert {field["name"]: field["message"] for field in answer["body"]["fieldList"]} == {
        "clusterName": "Member must not be null",
        "shardCapacity": "Member must be an integer",
        "subnetIds": "Member must be a list",
    }


def test_create_cluster_keeps_the_same_rules(served: Served) -> None:
    arguments: dict[str, Any] = {
        "adminUserName": "admin",
        "adminUserPassword": "correct-horse-battery",
        "authType": "PLAIN_TEXT",
        "shardCapacity": 2,
    }
    with pytest.raises(
        served.client.exceptions.ValidationException, match="shardCount 33 is not from 1 to 32"
    ):
        served.client.create_cluster(clusterName="too-many", shardCount=33, **arguments)
    made = served.client.create_cluster(clusterName="Mixed", shardCount=1, **arguments)["cluster"]
    assert (made["clusterName"], made["shardInstanceCount"]) == ("mixed", 1)


# -- listing -------------------------------------------------------------------------------------------------


def test_list_pages_through_the_callers_clusters_in_order(served: Served) -> None:
    snapshot = served.seed_snapshot()
    names = [f"c{index}" for index in range(5)]
    arns = [restore(served, snapshot, name)["clusterArn"] for name in names]
    served.service.backend.seed_snapshot(account=OTHER_ACCOUNT, region=REGION, name="theirs")
    first = served.client.list_clusters(maxResults=2)
    assert [item["clusterName"] for item in first["clusters"]] == ["c0", "c1"]
    assert set(first["clusters"][0]) == {"clusterArn", "clusterName", "status"}
    # A deletion between pages skips nothing else.
    served.client.delete_cluster(clusterArn=arns[2])
    second = served.client.list_clusters(maxResults=2, nextToken=first["nextToken"])
    assert [(item["clusterName"], item["status"]) for item in second["clusters"]] == [
        ("c3", "ACTIVE"),
        ("c4", "ACTIVE"),
    ]
    assert "nextToken" not in second
    paged = served.client.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 3})
    assert [item["clusterName"] for page in paged for item in page["clusters"]] == ["c0", "c1", "c3", "c4"]
    assert served.service.client(region=REGION, account=OTHER_ACCOUNT).list_clusters()["clusters"] == []
    with pytest.raises(served.client.exceptions.ValidationException, match="not a token"):
        served.client.list_clusters(nextToken="garbage")


# -- updating ------------------------------------------------------------------------------------------------


def test_update_is_updating_then_active_and_shows_the_new_values(served: Served) -> None:
    cluster = restore(served, served.seed_snapshot())
    served.service.backend.configure(durations={"update": 90})
    updated = served.client.update_cluster(
        clusterArn=cluster["clusterArn"],
        shardCapacity=4,
        shardInstanceCount=2,
        subnetIds=SUBNETS,
        vpcSecurityGroupIds=GROUPS,
        preferredMaintenanceWindow="mon:01:00-mon:01:30",
        backupRetentionPeriod=7,
        adminUserPassword="a-new-password",
    )["cluster"]
    assert updated["status"] == "UPDATING"
    assert (updated["shardCapacity"], updated["shardInstanceCount"], updated["shardCount"]) == (4, 2, 1)
    assert (updated["subnetIds"], updated["vpcSecurityGroupIds"]) == (SUBNETS, GROUPS)
    assert (updated["preferredMaintenanceWindow"], updated["backupRetentionPeriod"]) == (
        "mon:01:00-mon:01:30",
        7,
    )
    with pytest.raises(served.client.exceptions.ConflictException, match="only an ACTIVE cluster"):
        served.client.update_cluster(clusterArn=cluster["clusterArn"], shardCapacity=8)
    with pytest.raises(served.client.exceptions.ConflictException, match="UPDATING"):
        served.client.delete_cluster(clusterArn=cluster["clusterArn"])
    served.clock.advance(90)
    assert status_of(served, cluster["clusterArn"]) == "ACTIVE"
    assert served.client.get_cluster(clusterArn=cluster["clusterArn"])["cluster"]["shardCapacity"] == 4


def test_update_of_a_cluster_being_created_is_a_conflict_and_rules_hold(served: Served) -> None:
    served.service.backend.configure(durations={"restore": 60})
    cluster = restore(served, served.seed_snapshot())
    with pytest.raises(served.client.exceptions.ConflictException, match="is CREATING") as raised:
        served.client.update_cluster(clusterArn=cluster["clusterArn"], shardCapacity=4)
    assert error_of(raised)["resourceType"] == "cluster"
    served.clock.advance(60)
    with pytest.raises(served.client.exceptions.ValidationException, match="shardCapacity 5"):
        served.client.update_cluster(clusterArn=cluster["clusterArn"], shardCapacity=5)
    after = served.client.get_cluster(clusterArn=cluster["clusterArn"])["cluster"]
    assert (after["status"], after["shardCapacity"]) == ("ACTIVE", 2)
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.update_cluster(
            clusterArn=f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/missing", shardCapacity=4
        )


# -- deleting ------------------------------------------------------------------------------------------------


def test_delete_is_deleting_then_gone_and_frees_the_name(served: Served) -> None:
    snapshot = served.seed_snapshot()
    served.service.backend.configure(durations={"delete": 30, "restore": 10})
    cluster = restore(served, snapshot, "reused")
    # A cluster still being created can be deleted, so nothing has to be left behind.
    assert served.client.delete_cluster(clusterArn=cluster["clusterArn"])["cluster"]["status"] == "DELETING"
    served.clock.advance(29)
    assert status_of(served, cluster["clusterArn"]) == "DELETING"
    with pytest.raises(served.client.exceptions.ConflictException, match="DELETING"):
        served.client.delete_cluster(clusterArn=cluster["clusterArn"])
    with pytest.raises(served.client.exceptions.ConflictException):
        restore(served, snapshot, "reused")
    served.clock.advance(1)
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.get_cluster(clusterArn=cluster["clusterArn"])
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.delete_cluster(clusterArn=cluster["clusterArn"])
    assert served.client.list_clusters()["clusters"] == []
    assert restore(served, snapshot, "REUSED")["clusterName"] == "reused"


# -- tags ----------------------------------------------------------------------------------------------------


def test_cluster_tags_work_as_snapshot_tags(served: Served) -> None:
    arn = restore(served, served.seed_snapshot(), tags={"keep": "1", "drop": "2"})["clusterArn"]
    served.client.tag_resource(resourceArn=arn, tags={"added": "3", "keep": "changed"})
    served.client.untag_resource(resourceArn=arn, tagKeys=["drop"])
    assert served.client.list_tags_for_resource(resourceArn=arn)["tags"] == {"keep": "changed", "added": "3"}
    with pytest.raises(served.client.exceptions.ValidationException, match="at most 50 tags"):
        served.client.tag_resource(resourceArn=arn, tags={f"k{index}": "v" for index in range(49)})
    with pytest.raises(served.client.exceptions.ValidationException, match="at most 50 tags"):
        restore(served, served.seed_snapshot("other"), "many", tags={f"k{index}": "v" for index in range(51)})
