"""Any account, any region: every operation of the local docdb-elastic service acts in the account and region
of its SigV4 credential scope, and the control API seeds in any account."""

from __future__ import annotations

from typing import Any

import pytest

from copied_snapshot_local_cloud.docdb_elastic import operations
from tests.support.constants import ACCOUNT, REGION
from tests.support.local_service import Served

THEIR_ACCOUNT = "111122223333"
THEIR_REGION = "eu-west-1"


def everything_as(client: Any, source: str) -> dict[str, str]:
    """Every supported operation once, as `client`; answers the ARNs it made."""
    cluster = client.create_cluster(
        clusterName="orders",
        adminUserName="admin",
        adminUserPassword="correct-horse-battery",
        authType="PLAIN_TEXT",
        shardCapacity=2,
        shardCount=1,
    )["cluster"]
    client.get_cluster(clusterArn=cluster["clusterArn"])
    snapshot = client.create_cluster_snapshot(clusterArn=cluster["clusterArn"], snapshotName="nightly")
    copy = client.copy_cluster_snapshot(snapshotArn=source, targetSnapshotName="dr-copy")["snapshot"]
    client.get_cluster_snapshot(snapshotArn=copy["snapshotArn"])
    client.list_cluster_snapshots()
    client.tag_resource(resourceArn=copy["snapshotArn"], tags={"team": "data", "drop": "me"})
    client.untag_resource(resourceArn=copy["snapshotArn"], tagKeys=["drop"])
    client.list_tags_for_resource(resourceArn=copy["snapshotArn"])
    restored = client.restore_cluster_from_snapshot(snapshotArn=copy["snapshotArn"], clusterName="restored")
    client.list_clusters()
    client.update_cluster(clusterArn=restored["cluster"]["clusterArn"], shardCapacity=4)
    client.delete_cluster_snapshot(snapshotArn=snapshot["snapshot"]["snapshotArn"])
    client.delete_cluster(clusterArn=cluster["clusterArn"])
    return {
        "cluster": cluster["clusterArn"],
        "key": cluster["kmsKeyId"],
        "snapshot": snapshot["snapshot"]["snapshotArn"],
        "copy": copy["snapshotArn"],
        "restored": restored["cluster"]["clusterArn"],
    }


def test_every_operation_acts_in_the_account_and_region_of_the_credential_scope(served: Served) -> None:
    status, seeded = served.control(
        "POST", "seed", {"snapshots": [{"account": THEIR_ACCOUNT, "region": THEIR_REGION, "name": "src"}]}
    )
    assert status == 200
    theirs = served.service.client(region=THEIR_REGION, account=THEIR_ACCOUNT)
    served.service.calls.clear()
    made = everything_as(theirs, seeded["snapshots"][0])

    assert {call.operation for call in served.service.calls.all()} == set(operations.SUPPORTED)
    assert {(call.account, call.region, call.outcome) for call in served.service.calls.all()} == {
        (THEIR_ACCOUNT, THEIR_REGION, "OK")
    }
    place = f":{THEIR_REGION}:{THEIR_ACCOUNT}:"
    assert all(place in arn for arn in made.values())
    assert theirs.list_tags_for_resource(resourceArn=made["copy"])["tags"] == {"team": "data"}

    # Neither the default account in the same region nor the same account in another region sees any of it.
    for client in (served.client, served.service.client(region=REGION, account=THEIR_ACCOUNT)):
        assert client.list_cluster_snapshots()["snapshots"] == []
        assert client.list_clusters()["clusters"] == []
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_cluster(clusterArn=made["restored"])
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.update_cluster(clusterArn=made["restored"], shardCapacity=8)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.delete_cluster(clusterArn=made["restored"])
        # Assumed, as for copies: a snapshot of another account or region is refused, not looked for.
        with pytest.raises(client.exceptions.ValidationException, match="same region and the same account"):
            client.restore_cluster_from_snapshot(snapshotArn=made["copy"], clusterName="not-mine")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_cluster_snapshot(snapshotArn=made["copy"])
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.list_tags_for_resource(resourceArn=made["copy"])
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.delete_cluster_snapshot(snapshotArn=made["copy"])
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.create_cluster_snapshot(clusterArn=made["restored"], snapshotName="not-mine")


def test_the_same_names_live_side_by_side_in_every_account(served: Served) -> None:
    seeded = served.service.seed(
        {
            "snapshots": [
                {"account": account, "region": REGION, "name": "src"} for account in (ACCOUNT, THEIR_ACCOUNT)
            ]
        }
    )
    mine = everything_as(served.client, seeded["snapshots"][0])
    their_client = served.service.client(region=REGION, account=THEIR_ACCOUNT)
    theirs = everything_as(their_client, seeded["snapshots"][1])
    assert mine["key"] != theirs["key"]
    assert f":{ACCOUNT}:" in mine["copy"]
    assert f":{THEIR_ACCOUNT}:" in theirs["copy"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"account": "abc", "region": REGION}, "account must be 12 digits"),
        ({"account": "1234567890123", "region": REGION}, "account must be 12 digits"),
        ({"account": f"{ACCOUNT}\n", "region": REGION}, "account must be 12 digits"),
        ({"account": ACCOUNT, "region": "Not A Region"}, "region must be a region name"),
    ],
)
def test_seeding_refuses_an_account_or_region_no_arn_could_name(
    served: Served, item: dict[str, str], message: str
) -> None:
    good = {"account": ACCOUNT, "region": REGION, "name": "first"}
    status, answer = served.control("POST", "seed", {"snapshots": [good, {**item, "name": "bad"}]})
    assert status == 400
    assert message in answer["body"]["message"]
    assert served.service.backend.state()["snapshots"] == []
