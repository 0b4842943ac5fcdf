"""Every supported operation of the local docdb-elastic service, through an unchanged boto3 client."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from copied_snapshot_local_cloud.docdb_elastic import operations
from copied_snapshot_local_cloud.docdb_elastic.state import default_key_arn
from tests.support.constants import ACCOUNT, OTHER_ACCOUNT, REGION
from tests.support.local_service import (
    COPY_KEY,
    SOURCE_KEY,
    SOURCE_REGION,
    Served,
    http,
    signed,
)


def create_cluster(served: Served, name: str = "orders", **options: Any) -> Any:
    arguments = {
        "clusterName": name,
        "adminUserName": "admin",
        "adminUserPassword": "correct-horse-battery",
        "authType": "PLAIN_TEXT",
        "shardCapacity": 2,
        "shardCount": 1,
        **options,
    }
    return served.client.create_cluster(**arguments)["cluster"]


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(raised.value.response)


# -- clusters ------------------------------------------------------------------------------------------------


def test_cluster_is_creating_then_active_after_its_duration(served: Served) -> None:
    served.service.backend.configure(durations={"cluster": 30})
    cluster = create_cluster(served, kmsKeyId=COPY_KEY, tags={"team": "data"})
    assert cluster["status"] == "CREATING"
    assert cluster["clusterArn"].startswith(f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/")
    assert cluster["kmsKeyId"] == COPY_KEY
    served.clock.advance(30)
    fetched = served.client.get_cluster(clusterArn=cluster["clusterArn"])["cluster"]
    assert fetched["status"] == "ACTIVE"
    assert fetched["clusterName"] == "orders"
    assert served.client.list_tags_for_resource(resourceArn=cluster["clusterArn"])["tags"] == {"team": "data"}


def test_cluster_names_are_unique_ignoring_case(served: Served) -> None:
    create_cluster(served, "orders")
    with pytest.raises(served.client.exceptions.ConflictException) as raised:
        create_cluster(served, "ORDERS")
    assert error_of(raised)["resourceType"] == "cluster"


def test_unknown_cluster_is_not_found_with_its_id_and_type(served: Served) -> None:
    arn = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/missing"
    with pytest.raises(served.client.exceptions.ResourceNotFoundException) as raised:
        served.client.get_cluster(clusterArn=arn)
    assert error_of(raised)["resourceId"] == arn
    assert error_of(raised)["resourceType"] == "cluster"


# -- snapshots of a cluster ----------------------------------------------------------------------------------


def test_cluster_snapshot_is_creating_then_active(served: Served) -> None:
    served.service.backend.configure(durations={"snapshot": 10})
    cluster = create_cluster(served, kmsKeyId=COPY_KEY)
    snapshot = served.client.create_cluster_snapshot(
        clusterArn=cluster["clusterArn"], snapshotName="nightly", tags={"k": "v"}
    )["snapshot"]
    assert snapshot["status"] == "CREATING"
    assert snapshot["kmsKeyId"] == COPY_KEY
    assert snapshot["clusterArn"] == cluster["clusterArn"]
    served.clock.advance(10)
    assert (
        served.client.get_cluster_snapshot(snapshotArn=snapshot["snapshotArn"])["snapshot"]["status"]
        == "ACTIVE"
    )


def test_snapshot_of_a_cluster_still_creating_is_a_conflict(served: Served) -> None:
    served.service.backend.configure(durations={"cluster": 60})
    cluster = create_cluster(served)
    with pytest.raises(served.client.exceptions.ConflictException, match="CREATING, not ACTIVE"):
        served.client.create_cluster_snapshot(clusterArn=cluster["clusterArn"], snapshotName="early")


def test_snapshot_of_an_unknown_cluster_is_not_found(served: Served) -> None:
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.create_cluster_snapshot(
            clusterArn=f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/missing", snapshotName="nightly"
        )


@pytest.mark.parametrize("name", ["1st", "ends-", "two--hyphens", "under_score"])
def test_snapshot_names_follow_the_documented_rules(served: Served, name: str) -> None:
    cluster = create_cluster(served)
    with pytest.raises(served.client.exceptions.ValidationException, match="invalid"):
        served.client.create_cluster_snapshot(clusterArn=cluster["clusterArn"], snapshotName=name)


# -- copies ----------------------------------------------------------------------------------------------


def test_copy_is_copying_then_active_after_its_duration(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 120})
    source = served.seed_snapshot()
    copy = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr-copy")["snapshot"]
    assert copy["status"] == "COPYING"
    assert copy["snapshotName"] == "dr-copy"
    assert copy["snapshotArn"] != source
    served.clock.advance(119)
    assert (
        served.client.get_cluster_snapshot(snapshotArn=copy["snapshotArn"])["snapshot"]["status"] == "COPYING"
    )
    served.clock.advance(1)
    assert (
        served.client.get_cluster_snapshot(snapshotArn=copy["snapshotArn"])["snapshot"]["status"] == "ACTIVE"
    )


def test_copy_with_zero_duration_is_active_at_once(served: Served) -> None:
    source = served.seed_snapshot()
    copy = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="quick")["snapshot"]
    assert copy["status"] == "ACTIVE"


def test_copy_tags_copies_the_source_tags_and_request_tags_win(served: Served) -> None:
    source = served.seed_snapshot(tags={"team": "data", "tier": "gold"})
    copied = served.client.copy_cluster_snapshot(
        snapshotArn=source, targetSnapshotName="tagged", copyTags=True, tags={"tier": "dr"}
    )["snapshot"]["snapshotArn"]
    plain = served.client.copy_cluster_snapshot(
        snapshotArn=source, targetSnapshotName="untagged", tags={"tier": "dr"}
    )["snapshot"]["snapshotArn"]
    assert served.client.list_tags_for_resource(resourceArn=copied)["tags"] == {"team": "data", "tier": "dr"}
    assert served.client.list_tags_for_resource(resourceArn=plain)["tags"] == {"tier": "dr"}


def test_every_cluster_and_snapshot_is_encrypted_by_default_with_the_accounts_key_of_its_region(
    served: Served,
) -> None:
    cluster = create_cluster(served)
    snapshot = served.client.create_cluster_snapshot(clusterArn=cluster["clusterArn"], snapshotName="nightly")
    seeded = served.client.get_cluster_snapshot(snapshotArn=served.seed_snapshot())["snapshot"]
    copy = served.client.copy_cluster_snapshot(snapshotArn=seeded["snapshotArn"], targetSnapshotName="c")
    default = default_key_arn(ACCOUNT, REGION)
    assert default.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    keys = {cluster["kmsKeyId"], snapshot["snapshot"]["kmsKeyId"], seeded["kmsKeyId"]}
    assert keys | {copy["snapshot"]["kmsKeyId"]} == {default}
    # One default key per account and region, the same on every run.
    assert default_key_arn(ACCOUNT, REGION) == default
    others = {default_key_arn(OTHER_ACCOUNT, REGION), default_key_arn(ACCOUNT, SOURCE_REGION)}
    assert len(others | {default}) == 3
    assert default_key_arn(ACCOUNT, "cn-north-1").startswith(f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/")


def test_any_source_can_be_re_encrypted_and_a_copy_without_a_key_keeps_the_sources(served: Served) -> None:
    source = served.seed_snapshot(kms_key_id=COPY_KEY)
    same = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="same")["snapshot"]
    other_key = COPY_KEY.replace("2222bbbb", "3333cccc")
    new = served.client.copy_cluster_snapshot(
        snapshotArn=source, targetSnapshotName="new", kmsKeyId=other_key
    )
    # A source with the default key may be re-encrypted too: there are no unencrypted snapshots.
    default_source = served.seed_snapshot("default-key")
    again = served.client.copy_cluster_snapshot(
        snapshotArn=default_source, targetSnapshotName="again", kmsKeyId=COPY_KEY
    )
    assert same["kmsKeyId"] == COPY_KEY
    assert new["snapshot"]["kmsKeyId"] == other_key
    assert again["snapshot"]["kmsKeyId"] == COPY_KEY


@pytest.mark.parametrize("operation", ["copy", "cluster"])
def test_a_key_of_another_region_is_a_validation_error(served: Served, operation: str) -> None:
    refused = served.client.exceptions.ValidationException
    with pytest.raises(refused, match=f"is in {SOURCE_REGION}") as raised:
        if operation == "copy":
            served.client.copy_cluster_snapshot(
                snapshotArn=served.seed_snapshot(), targetSnapshotName="dr", kmsKeyId=SOURCE_KEY
            )
        else:
            create_cluster(served, kmsKeyId=SOURCE_KEY)
    assert error_of(raised)["fieldList"] == [{"name": "kmsKeyId", "message": "key of another region"}]
    assert [item["snapshotName"] for item in served.service.backend.state()["snapshots"]] == (
        ["source"] if operation == "copy" else []
    )
    assert served.service.backend.state()["clusters"] == []


@pytest.mark.parametrize(
    ("region", "account", "partition"),
    [
        (SOURCE_REGION, ACCOUNT, "aws"),  # another region
        (REGION, OTHER_ACCOUNT, "aws"),  # another account
        (REGION, ACCOUNT, "aws-cn"),  # another partition
    ],
)
def test_a_source_of_another_region_or_account_is_a_validation_error(
    served: Served, region: str, account: str, partition: str
) -> None:
    served.service.seed({"snapshots": [{"account": account, "region": region, "name": "theirs"}]})
    source = f"arn:{partition}:docdb-elastic:{region}:{account}:cluster-snapshot/whatever"
    with pytest.raises(served.client.exceptions.ValidationException, match="same region and the same") as e:
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr", kmsKeyId=COPY_KEY)
    expected = [{"name": "snapshotArn", "message": "not in the same region and account"}]
    assert error_of(e)["fieldList"] == expected
    assert [item["snapshotName"] for item in served.service.backend.state()["snapshots"]] == ["theirs"]


def test_a_seeded_source_of_another_region_is_refused_with_its_arn(served: Served) -> None:
    source = served.service.seed(
        {"snapshots": [{"account": ACCOUNT, "region": SOURCE_REGION, "name": "src", "kmsKeyId": SOURCE_KEY}]}
    )["snapshots"][0]
    with pytest.raises(served.client.exceptions.ValidationException, match=f"{source} is not in {REGION}"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr")
    # In its own region the same source copies fine, keeping its key.
    there = served.service.client(region=SOURCE_REGION, account=ACCOUNT)
    copy = there.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr")["snapshot"]
    assert copy["snapshotArn"].startswith(f"arn:aws:docdb-elastic:{SOURCE_REGION}:{ACCOUNT}:")
    assert copy["kmsKeyId"] == SOURCE_KEY


def test_unknown_source_is_not_found(served: Served) -> None:
    missing = f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/missing"
    with pytest.raises(served.client.exceptions.ResourceNotFoundException) as raised:
        served.client.copy_cluster_snapshot(snapshotArn=missing, targetSnapshotName="copy")
    assert error_of(raised)["resourceType"] == "cluster-snapshot"


def test_source_that_is_not_an_arn_is_a_validation_error(served: Served) -> None:
    with pytest.raises(served.client.exceptions.ValidationException, match="not a cluster snapshot ARN"):
        served.client.copy_cluster_snapshot(snapshotArn="orders-nightly", targetSnapshotName="copy")


@pytest.mark.parametrize(
    "source",
    [
        f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/source\n",
        f"arn:awsfoo:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/source",
        f"\narn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/source",
    ],
)
def test_a_source_arn_must_be_one_whole_arn_of_an_aws_partition(served: Served, source: str) -> None:
    served.seed_snapshot(snapshot_id="source")
    with pytest.raises(served.client.exceptions.ValidationException, match="not a cluster snapshot ARN"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="copy")
    with pytest.raises(served.client.exceptions.ValidationException, match="not a docdb-elastic"):
        served.client.tag_resource(resourceArn=source, tags={"a": "b"})
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.get_cluster_snapshot(snapshotArn=source)


def test_names_and_tag_keys_must_match_whole_values(served: Served) -> None:
    source = served.seed_snapshot()
    with pytest.raises(served.client.exceptions.ValidationException, match="targetSnapshotName 'abc\n'"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="abc\n")
    with pytest.raises(served.client.exceptions.ValidationException, match="regular expression pattern"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="abc", tags={"key\n": "v"})
    with pytest.raises(served.client.exceptions.ValidationException, match="regular expression pattern"):
        served.client.tag_resource(resourceArn=source, tags={"key\n": "v"})
    with pytest.raises(served.client.exceptions.ValidationException, match="clusterName 'abc\n'"):
        create_cluster(served, "abc\n")
    assert [item["snapshotName"] for item in served.service.backend.state()["snapshots"]] == ["source"]
    assert served.client.list_tags_for_resource(resourceArn=source)["tags"] == {}


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("us-isob-east-1", "aws-iso-b")],
)
def test_arns_carry_the_partition_of_the_callers_region(served: Served, region: str, partition: str) -> None:
    client = served.service.client(region=region, account=ACCOUNT)
    seeded = served.service.seed({"snapshots": [{"account": ACCOUNT, "region": region, "name": "src"}]})
    source = seeded["snapshots"][0]
    assert source.startswith(f"arn:{partition}:docdb-elastic:{region}:{ACCOUNT}:cluster-snapshot/")
    copy = client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="copy")["snapshot"]
    assert copy["snapshotArn"].startswith(f"arn:{partition}:docdb-elastic:{region}:")
    assert copy["kmsKeyId"].startswith(f"arn:{partition}:kms:{region}:{ACCOUNT}:key/")
    client.tag_resource(resourceArn=copy["snapshotArn"], tags={"a": "b"})
    assert client.list_tags_for_resource(resourceArn=copy["snapshotArn"])["tags"] == {"a": "b"}


def test_source_still_copying_is_a_conflict(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 60})
    source = served.seed_snapshot()
    first = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="first")
    with pytest.raises(served.client.exceptions.ConflictException, match="COPYING, not ACTIVE"):
        served.client.copy_cluster_snapshot(
            snapshotArn=first["snapshot"]["snapshotArn"], targetSnapshotName="x"
        )


def test_target_names_are_unique_per_account_and_region_ignoring_case(served: Served) -> None:
    source = served.seed_snapshot()
    held = served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="Dr-Copy")["snapshot"]
    with pytest.raises(served.client.exceptions.ConflictException) as raised:
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr-COPY")
    assert error_of(raised)["resourceId"] == held["snapshotArn"]
    # The same name is free in another region and in another account.
    served.service.seed({"snapshots": [{"account": ACCOUNT, "region": SOURCE_REGION, "name": "dr-copy"}]})
    served.service.seed({"snapshots": [{"account": OTHER_ACCOUNT, "region": REGION, "name": "dr-copy"}]})


def test_more_than_fifty_tags_is_a_validation_error(served: Served) -> None:
    source = served.seed_snapshot(tags={f"source-{index}": "v" for index in range(30)})
    with pytest.raises(served.client.exceptions.ValidationException, match="at most 50 tags"):
        served.client.copy_cluster_snapshot(
            snapshotArn=source,
            targetSnapshotName="crowded",
            copyTags=True,
            tags={f"request-{index}": "v" for index in range(21)},
        )
    fifty = served.client.copy_cluster_snapshot(
        snapshotArn=source, targetSnapshotName="full", copyTags=True, tags={f"r-{i}": "v" for i in range(20)}
    )
    assert (
        len(served.client.list_tags_for_resource(resourceArn=fifty["snapshot"]["snapshotArn"])["tags"]) == 50
    )


def test_manual_snapshot_quota_is_a_service_quota_error(served: Served) -> None:
    served.service.backend.configure(snapshot_quota=3)
    source = served.seed_snapshot()
    for name in ("one", "two"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName=name)
    with pytest.raises(served.client.exceptions.ServiceQuotaExceededException, match="quota of 3"):
        served.client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="three")
    # Another region has its own quota.
    other = served.service.client(region=SOURCE_REGION, account=ACCOUNT)
    seeded = served.service.seed({"snapshots": [{"account": ACCOUNT, "region": SOURCE_REGION, "name": "s"}]})
    other.copy_cluster_snapshot(snapshotArn=seeded["snapshots"][0], targetSnapshotName="three")


# -- listing ---------------------------------------------------------------------------------------------


def test_list_pages_through_every_snapshot_in_order(served: Served) -> None:
    arns = [served.seed_snapshot(f"snap-{index:02d}") for index in range(45)]
    pages = list(
        served.client.get_paginator("list_cluster_snapshots").paginate(PaginationConfig={"PageSize": 20})
    )
    assert [len(page["snapshots"]) for page in pages] == [20, 20, 5]
    assert [item["snapshotArn"] for page in pages for item in page["snapshots"]] == arns


def test_a_deletion_between_pages_skips_nothing_else(served: Served) -> None:
    arns = [served.seed_snapshot(f"snap-{index:02d}") for index in range(25)]
    first = served.client.list_cluster_snapshots(maxResults=20)
    served.client.delete_cluster_snapshot(snapshotArn=arns[3])
    rest = served.client.list_cluster_snapshots(maxResults=20, nextToken=first["nextToken"])
    assert [item["snapshotArn"] for item in rest["snapshots"]] == arns[20:]
    assert "nextToken" not in rest


def test_list_filters_by_cluster_and_type_and_stays_in_the_callers_region(served: Served) -> None:
    cluster = create_cluster(served)
    made = served.client.create_cluster_snapshot(clusterArn=cluster["clusterArn"], snapshotName="of-cluster")
    served.seed_snapshot("automated", snapshot_type="AUTOMATED")
    served.service.seed({"snapshots": [{"account": ACCOUNT, "region": SOURCE_REGION, "name": "elsewhere"}]})
    by_cluster = served.client.list_cluster_snapshots(clusterArn=cluster["clusterArn"])["snapshots"]
    automated = served.client.list_cluster_snapshots(snapshotType="AUTOMATED")["snapshots"]
    everything = served.client.list_cluster_snapshots()["snapshots"]
    assert [item["snapshotArn"] for item in by_cluster] == [made["snapshot"]["snapshotArn"]]
    assert [item["snapshotName"] for item in automated] == ["automated"]
    assert sorted(item["snapshotName"] for item in everything) == ["automated", "of-cluster"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"maxResults": 101}, "less than or equal to 100"),
        ({"nextToken": "not-a-token"}, "not a token this service issued"),
        ({"snapshotType": "WEEKLY"}, "MANUAL or AUTOMATED"),
    ],
)
def test_list_refuses_bad_paging_and_filters(served: Served, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(served.client.exceptions.ValidationException, match=message):
        served.client.list_cluster_snapshots(**arguments)


def test_page_size_below_the_models_minimum_is_refused(served: Served) -> None:
    # boto3 checks minimums itself, so this request is sent as raw HTTP.
    status, answer = http(
        "GET", f"{served.service.endpoint_url}/cluster-snapshots?maxResults=10", headers=signed()
    )
    assert status == 400
    assert answer["body"]["fieldList"] == [
        {"name": "maxResults", "message": "Member must have value greater than or equal to 20"}
    ]


# -- deletion --------------------------------------------------------------------------------------------


def test_delete_is_deleting_then_gone(served: Served) -> None:
    served.service.backend.configure(durations={"delete": 5})
    arn = served.seed_snapshot()
    assert served.client.delete_cluster_snapshot(snapshotArn=arn)["snapshot"]["status"] == "DELETING"
    assert served.client.get_cluster_snapshot(snapshotArn=arn)["snapshot"]["status"] == "DELETING"
    with pytest.raises(served.client.exceptions.ConflictException, match="DELETING"):
        served.client.delete_cluster_snapshot(snapshotArn=arn)
    served.clock.advance(5)
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.get_cluster_snapshot(snapshotArn=arn)
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.delete_cluster_snapshot(snapshotArn=arn)


def test_delete_of_a_copy_in_progress_is_a_conflict(served: Served) -> None:
    served.service.backend.configure(durations={"copy": 60})
    copy = served.client.copy_cluster_snapshot(snapshotArn=served.seed_snapshot(), targetSnapshotName="busy")
    with pytest.raises(served.client.exceptions.ConflictException, match="COPYING"):
        served.client.delete_cluster_snapshot(snapshotArn=copy["snapshot"]["snapshotArn"])


def test_a_deleted_name_is_free_once_the_snapshot_is_gone(served: Served) -> None:
    arn = served.seed_snapshot("reused")
    served.client.delete_cluster_snapshot(snapshotArn=arn)
    copy = served.client.copy_cluster_snapshot(
        snapshotArn=served.seed_snapshot(), targetSnapshotName="REUSED"
    )
    assert copy["snapshot"]["snapshotName"] == "REUSED"


# -- tags ------------------------------------------------------------------------------------------------


def test_tag_untag_and_list_tags(served: Served) -> None:
    arn = served.seed_snapshot(tags={"keep": "1", "drop": "2"})
    served.client.tag_resource(resourceArn=arn, tags={"added": "3", "keep": "changed"})
    served.client.untag_resource(resourceArn=arn, tagKeys=["drop", "never-there"])
    assert served.client.list_tags_for_resource(resourceArn=arn)["tags"] == {"keep": "changed", "added": "3"}


def test_tag_beyond_fifty_is_refused_and_changes_nothing(served: Served) -> None:
    arn = served.seed_snapshot(tags={f"k{index}": "v" for index in range(50)})
    with pytest.raises(served.client.exceptions.ValidationException, match="at most 50 tags"):
        served.client.tag_resource(resourceArn=arn, tags={"one-more": "v"})
    assert len(served.client.list_tags_for_resource(resourceArn=arn)["tags"]) == 50


def test_tag_keys_and_values_are_validated_from_the_model(served: Served) -> None:
    arn = served.seed_snapshot()
    with pytest.raises(served.client.exceptions.ValidationException) as raised:
        served.client.tag_resource(resourceArn=arn, tags={"aws:reserved": "x", "ok": "v" * 257})
    error = error_of(raised)
    assert error["reason"] == "fieldValidationFailed"
    assert {field["name"] for field in error["fieldList"]} == {"tags", "tags.ok"}
    assert "2 validation errors detected: Value 'aws:reserved' at 'tags'" in error["Error"]["Message"]


def test_tags_of_an_unknown_resource_are_not_found(served: Served) -> None:
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.list_tags_for_resource(
            resourceArn=f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/missing"
        )
    with pytest.raises(served.client.exceptions.ValidationException, match="not a docdb-elastic"):
        served.client.tag_resource(resourceArn="arn:aws:s3:::bucket", tags={"a": "b"})


# -- the protocol itself ---------------------------------------------------------------------------------


def test_required_members_and_lengths_come_from_the_model(served: Served) -> None:
    with pytest.raises(served.client.exceptions.ValidationException) as raised:
        served.client.copy_cluster_snapshot(snapshotArn=served.seed_snapshot(), targetSnapshotName="x" * 64)
    assert "Member must have length less than or equal to 63" in str(raised.value)
    status, answer = http(
        "POST",
        f"{served.service.endpoint_url}/cluster-snapshot/{'arn%3Aaws'}/copy",
        {"copyTags": "yes", "unexpected": 1},
        signed(),
    )
    assert status == 400
    names = {field["name"]: field["message"] for field in answer["body"]["fieldList"]}
    assert names == {
        "targetSnapshotName": "Member must not be null",
        "copyTags": "Member must be a boolean",
        "unexpected": "Member is not in the model of this shape",
    }


def test_modelled_but_unsupported_operations_answer_a_validation_error(served: Served) -> None:
    with pytest.raises(
        served.client.exceptions.ValidationException, match="StopCluster is not supported"
    ) as e:
        served.client.stop_cluster(clusterArn=f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/x")
    assert error_of(e)["reason"] == "unknownOperation"
    assert served.client.list_tags_for_resource(resourceArn=served.seed_snapshot())["tags"] == {}


def test_unrouted_paths_unsigned_requests_and_bad_json_get_proper_errors(served: Served) -> None:
    url = served.service.endpoint_url
    status, answer = http("GET", f"{url}/no-such-route", headers=signed())
    assert (status, answer["headers"]["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    status, answer = http("GET", f"{url}/cluster-snapshots")
    assert (status, answer["headers"]["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
    status, answer = http("POST", f"{url}/cluster-snapshot", b"{not json", signed())
    assert (status, answer["body"]["reason"]) == (400, "cannotParse")


def test_an_emulator_bug_is_an_internal_server_error_and_the_server_stays_up(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(operations.SUPPORTED, "ListClusterSnapshots", broken)
    with pytest.raises(served.client.exceptions.InternalServerException, match="RuntimeError: boom"):
        served.client.list_cluster_snapshots()
    assert served.client.list_tags_for_resource(resourceArn=served.seed_snapshot())["tags"] == {}


def test_endpoint_comes_from_the_standard_environment_variable(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DOCDB_ELASTIC", served.service.endpoint_url)
    client = boto3.client("docdb-elastic", region_name=REGION)
    arn = served.seed_snapshot()
    assert client.get_cluster_snapshot(snapshotArn=arn)["snapshot"]["snapshotArn"] == arn
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def test_account_comes_from_the_access_key_and_region_from_the_credential_scope(served: Served) -> None:
    mine = served.service.client(region=REGION, account=ACCOUNT)
    theirs = served.service.client(region=REGION, account=OTHER_ACCOUNT)
    arn = served.seed_snapshot("mine")
    assert mine.list_cluster_snapshots()["snapshots"][0]["snapshotArn"] == arn
    assert theirs.list_cluster_snapshots()["snapshots"] == []
    with pytest.raises(theirs.exceptions.ResourceNotFoundException):
        theirs.get_cluster_snapshot(snapshotArn=arn)
    assert served.service.calls.all()[-1].account == OTHER_ACCOUNT


def test_call_log_records_operation_arguments_time_and_outcome_without_secrets(served: Served) -> None:
    create_cluster(served)
    with pytest.raises(ClientError):
        create_cluster(served)
    created, refused = served.service.calls.of("CreateCluster")
    assert (created.outcome, created.status, refused.outcome, refused.status) == (
        "OK",
        200,
        "ConflictException",
        409,
    )
    assert created.arguments["clusterName"] == "orders"
    assert created.arguments["adminUserPassword"] == "*** sensitive ***"
    assert created.timestamp == served.clock.now()
    assert (created.account, created.region) == (ACCOUNT, REGION)
    assert "correct-horse-battery" not in repr(served.service.calls.all())
