"""The handler's Custom::RestoredCluster life cycle through crhelper: docdb-elastic is the local service (on a
manual clock shared with the handler's deadlines), EventBridge a botocore Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from copied_snapshot_runtime import cluster_decisions, clusters, invocation, rules
from copied_snapshot_runtime import handler as copy_handler
from copied_snapshot_runtime.cluster_properties import parse_cluster_properties
from copied_snapshot_runtime.cluster_service import ClusterService
from tests.support.constants import ACCOUNT, REGION
from tests.support.handler_harness import (
    FUNCTION_NAME,
    STACK_ID,
    Aws,
    CloudFormationEndpoint,
    Context,
    stubbed_clients,
)
from tests.support.local_service import Served

SUBNETS = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
GROUPS = ["sg-0123abcd"]
LOGICAL_ID = "OrdersCluster"


@dataclass
class World:
    served: Served
    aws: Aws
    cfn: CloudFormationEndpoint
    snapshot_arn: str

    def invoke(self, message: dict[str, Any]) -> None:
        copy_handler.handler(message, Context())

    def answer(self) -> dict[str, Any]:
        [response] = self.cfn.responses
        self.cfn.responses.clear()
        return response

    def poll(self, message: dict[str, Any], *, answers: bool) -> None:
        """One poll of the polling rule; one that answers removes its rule."""
        if answers:
            self.aws.expect_polling_teardown()
        self.invoke(message)

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        """A request that started work and set up polling; returns the poll event."""
        self.aws.expect_polling_setup()
        self.invoke(message)
        assert self.cfn.responses == []
        return self.aws.poll_event()

    def clusters(self) -> list[dict[str, Any]]:
        return [dict(cluster) for cluster in self.served.client.list_clusters()["clusters"]]

    def cluster(self, arn: str) -> dict[str, Any]:
        return dict(self.served.client.get_cluster(clusterArn=arn)["cluster"])


@pytest.fixture
def world(served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    served.service.backend.configure(durations={"restore": 600, "update": 300, "delete": 120})
    snapshot_arn = served.seed_snapshot("orders-copy")
    cfn = CloudFormationEndpoint()
    for _, events, stubs in stubbed_clients():
        api = ClusterService(served.client, sleep=lambda seconds: None)
        monkeypatch.setattr(clusters, "service", lambda api=api: api)
        monkeypatch.setattr(invocation, "clock", served.clock.now)
        monkeypatch.setattr(invocation.helper, "_events_client", events)
        monkeypatch.setattr(invocation.helper, "_lambda_client", None)
        monkeypatch.setattr(invocation.helper, "wait_in_process", False)  # one step at a time
        yield World(served, stubs, cfn, snapshot_arn)
        stubs.events.assert_no_pending_responses()
    cfn.close()


def props(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}",
        "SnapshotArn": world.snapshot_arn,
        "ClusterName": "orders",
        "NameGenerated": "false",
        "SubnetIds": SUBNETS,
        "VpcSecurityGroupIds": GROUPS,
        "ShardCapacity": "2",
        "ShardInstanceCount": "1",
        "TimeoutSeconds": "3000",
        "Tags": [{"Key": "team", "Value": "data"}],
        **overrides,
    }


def event(
    world: World,
    request_type: str,
    properties: dict[str, Any] | None = None,
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
    logical_id: str = LOGICAL_ID,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}",
        "ResponseURL": world.cfn.url,
        "StackId": STACK_ID,
        "RequestId": f"{request_type.lower()}-request-1",
        "LogicalResourceId": logical_id,
        "ResourceType": "Custom::RestoredCluster",
        "ResourceProperties": properties if properties is not None else props(world),
    }
    if physical_id is not None:
        message["PhysicalResourceId"] = physical_id
    if old is not None:
        message["OldResourceProperties"] = old
    return message


def restored_by_hand(world: World) -> dict[str, Any]:
    """A cluster no RestoredCluster made."""
    client = world.served.client
    answer = client.restore_cluster_from_snapshot(snapshotArn=world.snapshot_arn, clusterName="theirs")
    return dict(answer["cluster"])


def created(world: World) -> str:
    """A cluster this resource restored, ACTIVE; returns its ARN."""
    poll = world.start(event(world, "Create"))
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    assert response["Status"] == "SUCCESS"
    return str(response["PhysicalResourceId"])


def test_create_restores_and_answers_once_the_cluster_is_active(world: World) -> None:
    poll = world.start(event(world, "Create"))
    [cluster] = world.clusters()
    assert cluster["status"] == "CREATING"
    described = world.cluster(cluster["clusterArn"])
    assert (described["subnetIds"], described["vpcSecurityGroupIds"]) == (SUBNETS, GROUPS)
    tags = world.served.client.list_tags_for_resource(resourceArn=cluster["clusterArn"])["tags"]
    assert tags["team"] == "data"
    assert tags[rules.OWNER_TAG].startswith(f"SnapshotCopyStack/{LOGICAL_ID}#")

    world.poll(poll, answers=False)
    assert world.cfn.responses == []
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == cluster["clusterArn"]
    assert response["Data"] == {
        "ClusterArn": cluster["clusterArn"],
        "ClusterEndpoint": described["clusterEndpoint"],
        "Port": "27017",
    }


def test_a_create_delivered_twice_adopts_its_own_cluster(world: World) -> None:
    world.start(event(world, "Create"))
    poll = world.start(event(world, "Create"))
    assert len(world.clusters()) == 1
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    [cluster] = world.clusters()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", cluster["clusterArn"])
    assert len(world.served.service.calls.of("RestoreClusterFromSnapshot")) == 2


def test_a_name_held_by_another_resource_fails_and_leaves_that_cluster_alone(world: World) -> None:
    other = created(world)
    world.invoke(event(world, "Create", logical_id="OtherCluster"))
    response = world.answer()
    assert response["Status"] == "FAILED"
    assert f"name in use: cluster {other}" in response["Reason"]
    assert world.cluster(other)["status"] == "ACTIVE"


def test_a_restore_ending_in_a_failure_status_fails_naming_the_cluster_and_status(world: World) -> None:
    world.served.service.faults.end_restores("INVALID_SUBNET_ID")
    poll = world.start(event(world, "Create"))
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    [cluster] = world.clusters()
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == cluster["clusterArn"]  # the rollback's Delete removes it
    assert f"cluster {cluster['clusterArn']} ended in status INVALID_SUBNET_ID" in response["Reason"]


def test_a_restore_past_its_deadline_fails(world: World) -> None:
    world.served.service.faults.stall_restores()
    poll = world.start(event(world, "Create", props(world, TimeoutSeconds="900")))
    world.served.clock.advance(600)
    world.poll(poll, answers=False)
    world.served.clock.advance(301)
    world.poll(poll, answers=True)
    response = world.answer()
    assert response["Status"] == "FAILED"
    assert "was not ACTIVE within 900 seconds (status CREATING)" in response["Reason"]


def test_update_of_tags_and_shards_is_made_in_place_and_waits_for_active(world: World) -> None:
    arn = created(world)
    new = props(world, ShardInstanceCount="2", Tags=[{"Key": "env", "Value": "dr"}])
    poll = world.start(event(world, "Update", new, physical_id=arn, old=props(world)))
    tags = world.served.client.list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags["env"] == "dr" and "team" not in tags and rules.OWNER_TAG in tags
    assert world.cluster(arn)["status"] == "UPDATING"
    assert world.served.service.calls.of("UpdateCluster")[0].arguments["shardInstanceCount"] == 2
    world.served.clock.advance(300)
    world.poll(poll, answers=True)
    response = world.answer()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", arn)
    assert len(world.clusters()) == 1


def test_update_of_tags_alone_answers_at_once(world: World) -> None:
    arn = created(world)
    new = props(world, Tags=[{"Key": "team", "Value": "platform"}])
    world.invoke(event(world, "Update", new, physical_id=arn, old=props(world)))
    response = world.answer()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", arn)
    assert world.served.client.list_tags_for_resource(resourceArn=arn)["tags"]["team"] == "platform"
    assert world.served.service.calls.of("UpdateCluster") == []


def test_update_of_the_name_restores_a_replacement(world: World) -> None:
    arn = created(world)
    new = props(world, ClusterName="orders-2")
    poll = world.start(event(world, "Update", new, physical_id=arn, old=props(world)))
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] != arn
    assert world.cluster(response["PhysicalResourceId"])["clusterName"] == "orders-2"
    assert world.cluster(arn)["status"] == "ACTIVE"  # CloudFormation deletes the old one afterwards


def test_a_generated_name_is_suffixed_on_replacement_and_a_chosen_one_must_change(world: World) -> None:
    arn = created(world)
    other_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/2222bbbb-2222-4222-8222-222222222222"
    world.invoke(event(world, "Update", props(world, KmsKeyId=other_key), physical_id=arn, old=props(world)))
    response = world.answer()
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", arn)
    assert "change cluster_name too" in response["Reason"]

    generated = props(world, NameGenerated="true", KmsKeyId=other_key)
    world.start(event(world, "Update", generated, physical_id=arn, old=props(world, NameGenerated="true")))
    names = sorted(cluster["clusterName"] for cluster in world.clusters())
    assert names[0] == "orders" and names[1].startswith("orders-")


def test_a_failed_replacement_is_deleted_not_leaked(world: World) -> None:
    arn = created(world)
    world.served.service.faults.end_restores("INVALID_SECURITY_GROUP_ID", name="orders-2")
    poll = world.start(event(world, "Update", props(world, ClusterName="orders-2"), physical_id=arn))
    world.served.clock.advance(600)
    world.poll(poll, answers=True)
    response = world.answer()
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", arn)
    assert "INVALID_SECURITY_GROUP_ID" in response["Reason"]
    world.served.clock.advance(120)
    assert [cluster["clusterArn"] for cluster in world.clusters()] == [arn]


def test_delete_removes_the_cluster_and_waits_until_it_is_gone(world: World) -> None:
    arn = created(world)
    poll = world.start(event(world, "Delete", physical_id=arn))
    assert world.cluster(arn)["status"] == "DELETING"
    world.poll(poll, answers=False)
    assert world.cfn.responses == []
    world.served.clock.advance(120)
    world.poll(poll, answers=True)
    response = world.answer()
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", arn)
    assert world.clusters() == []


def test_delete_of_a_cluster_being_updated_is_asked_again_until_it_takes(world: World) -> None:
    arn = created(world)
    world.served.client.update_cluster(clusterArn=arn, shardInstanceCount=2)
    poll = world.start(event(world, "Delete", physical_id=arn))
    world.served.clock.advance(300)
    world.poll(poll, answers=False)
    assert world.cluster(arn)["status"] == "DELETING"
    world.served.clock.advance(120)
    world.poll(poll, answers=True)
    assert world.answer()["Status"] == "SUCCESS"


def test_delete_of_a_cluster_already_gone_or_not_ours_succeeds_without_deleting(world: World) -> None:
    arn = created(world)
    theirs = restored_by_hand(world)
    snapshot_arn = world.snapshot_arn  # an ARN, but no cluster's
    for physical_id in (theirs["clusterArn"], arn.replace(REGION, "eu-west-1"), snapshot_arn):
        world.invoke(event(world, "Delete", physical_id=physical_id))
        assert world.answer()["Status"] == "SUCCESS"
    assert world.served.service.calls.of("DeleteCluster") == []
    world.served.client.delete_cluster(clusterArn=arn)
    world.served.clock.advance(120)
    world.invoke(event(world, "Delete", physical_id=arn))
    assert world.answer()["Status"] == "SUCCESS"
    assert len(world.served.service.calls.of("DeleteCluster")) == 1


def test_delete_after_a_create_that_never_answered_finds_its_cluster_by_name(world: World) -> None:
    world.start(event(world, "Create"))
    poll = world.start(event(world, "Delete", physical_id=f"SnapshotCopyStack_{LOGICAL_ID}_ABCDEFGH"))
    world.served.clock.advance(120)
    world.poll(poll, answers=True)
    assert world.answer()["Status"] == "SUCCESS"
    assert world.clusters() == []


def test_update_of_a_cluster_not_ours_fails_and_changes_nothing(world: World) -> None:
    theirs = restored_by_hand(world)
    world.served.clock.advance(600)
    new = props(world, ShardInstanceCount="3")
    world.invoke(event(world, "Update", new, physical_id=theirs["clusterArn"], old=props(world)))
    response = world.answer()
    assert response["Status"] == "FAILED"
    assert "not to RestoredCluster SnapshotCopyStack/OrdersCluster" in response["Reason"]
    assert world.served.service.calls.of("UpdateCluster") == []


def test_only_what_update_cluster_takes_is_changed_in_place() -> None:
    base = {"SnapshotArn": f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster-snapshot/s", "ClusterName": "c"}
    old = parse_cluster_properties({**base, "ShardCapacity": "2", "SubnetIds": SUBNETS})
    same_set = parse_cluster_properties({**base, "ShardCapacity": "2", "SubnetIds": SUBNETS[::-1]})
    assert cluster_decisions.update_arguments(old, same_set) == {}
    bigger = parse_cluster_properties({**base, "ShardCapacity": "4", "VpcSecurityGroupIds": GROUPS})
    changes = cluster_decisions.update_arguments(old, bigger)
    assert changes == {"shardCapacity": 4, "vpcSecurityGroupIds": GROUPS}
    assert not cluster_decisions.replaced_by(old, bigger)
    assert cluster_decisions.replaced_by(old, parse_cluster_properties({**base, "ClusterName": "d"}))
    assert not cluster_decisions.replaced_by(old, parse_cluster_properties({**base, "ClusterName": "C"}))
