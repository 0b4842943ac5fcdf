"""The local cloud's EC2 providers: what `ec2.Vpc` (isolated subnets) and `ec2.SecurityGroup` synthesize,
deployed, updated and destroyed in moto's EC2 by the engine."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.clock import Clock, ScaledClock
from copied_snapshot_local_cloud.cloudformation.engine import Engine
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.providers import default_providers
from copied_snapshot_local_cloud.cloudformation.store import StackStore
from tests.support.constants import REGION

NO_CUSTOM: Any = None  # these templates hold no custom resource


class MotoCloud:
    runner: Any = None
    clock: Clock = ScaledClock()

    def client(self, service: str, region: str, account: str | None = None) -> Any:
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]

    def function_environment(
        self, region: str, variables: Mapping[str, str], account: str | None = None
    ) -> dict[str, str]:
        return dict(variables)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield Engine(
            MotoCloud(),
            StackStore(tmp_path),
            providers=default_providers(),
            custom=NO_CUSTOM,
            order=Order.one_at_a_time(),
        )


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def subnet(index: int, zone: str) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "AvailabilityZone": zone,
            "CidrBlock": f"10.0.{index}.0/24",
            "MapPublicIpOnLaunch": False,
            "VpcId": {"Ref": "Vpc"},
            "Tags": [{"Key": "aws-cdk:subnet-type", "Value": "Isolated"}],
        },
    }


def network(*, tag: str = "a", ingress_port: int = 27017) -> dict[str, Any]:
    """The resources `ec2.Vpc` with two isolated subnets and an `ec2.SecurityGroup` synthesize."""
    resources: dict[str, Any] = {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {
                "CidrBlock": "10.0.0.0/16",
                "EnableDnsHostnames": True,
                "EnableDnsSupport": True,
                "InstanceTenancy": "default",
                "Tags": [{"Key": "Name", "Value": tag}],
            },
        },
        "Group": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "cluster",
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupEgress": [
                    {"CidrIp": "255.255.255.255/32", "FromPort": 252, "IpProtocol": "icmp", "ToPort": 86}
                ],
                "SecurityGroupIngress": [
                    {
                        "CidrIp": "10.0.0.0/16",
                        "FromPort": ingress_port,
                        "IpProtocol": "tcp",
                        "ToPort": ingress_port,
                    }
                ],
            },
        },
        "Client": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "client", "VpcId": {"Ref": "Vpc"}},
        },
        "FromClient": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]},
                "SourceSecurityGroupId": {"Fn::GetAtt": ["Client", "GroupId"]},
                "IpProtocol": "tcp",
                "FromPort": 27017,
                "ToPort": 27017,
            },
        },
    }
    for index, zone in enumerate(("us-east-1a", "us-east-1b")):
        resources[f"Subnet{index}"] = subnet(index, zone)
        resources[f"Table{index}"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}}
        resources[f"Association{index}"] = {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"RouteTableId": {"Ref": f"Table{index}"}, "SubnetId": {"Ref": f"Subnet{index}"}},
        }
    outputs = {
        "Default": {"Value": {"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]}},
        "Cidr": {"Value": {"Fn::GetAtt": ["Vpc", "CidrBlock"]}},
        "Zone": {"Value": {"Fn::GetAtt": ["Subnet1", "AvailabilityZone"]}},
    }
    return {"Resources": resources, "Outputs": outputs}


def stack(template: dict[str, Any]) -> Stack:
    return Stack("Net", "Net", template, "123456789012", REGION, ())


def test_a_vpc_with_isolated_subnets_and_groups_is_made_updated_and_destroyed(engine: Engine) -> None:
    state = engine.deploy(stack(network()))
    ids = {logical_id: resource.physical_id for logical_id, resource in state.resources.items()}
    [vpc] = ec2().describe_vpcs(VpcIds=[ids["Vpc"]])["Vpcs"]
    assert vpc["CidrBlock"] == state.outputs["Cidr"] == "10.0.0.0/16"
    subnets = ec2().describe_subnets(Filters=[{"Name": "vpc-id", "Values": [ids["Vpc"]]}])["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    assert state.outputs["Zone"] == "us-east-1b"
    default = ec2().describe_security_groups(GroupIds=[state.outputs["Default"]])["SecurityGroups"][0]
    assert (default["GroupName"], default["VpcId"]) == ("default", ids["Vpc"])
    tables = ec2().describe_route_tables(RouteTableIds=[ids["Table0"]])["RouteTables"]
    assert [a["SubnetId"] for a in tables[0]["Associations"]] == [ids["Subnet0"]]
    [group] = ec2().describe_security_groups(GroupIds=[ids["Group"]])["SecurityGroups"]
    assert {(p["FromPort"], p.get("IpRanges", [{}])[0].get("CidrIp")) for p in group["IpPermissions"]} >= {
        (27017, "10.0.0.0/16")
    }
    assert any(
        pair["GroupId"] == ids["Client"]
        for p in group["IpPermissions"]
        for pair in p.get("UserIdGroupPairs", [])
    )
    assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == [
        "icmp"
    ]  # no outbound: CDK's marker rule
    [client] = ec2().describe_security_groups(GroupIds=[ids["Client"]])["SecurityGroups"]
    assert client["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]  # AWS's default

    state = engine.deploy(stack(network(tag="b", ingress_port=27018)))
    assert state.resources["Vpc"].physical_id == ids["Vpc"]  # tags and rules change in place
    [vpc] = ec2().describe_vpcs(VpcIds=[ids["Vpc"]])["Vpcs"]
    assert {"Key": "Name", "Value": "b"} in vpc["Tags"]
    [group] = ec2().describe_security_groups(GroupIds=[ids["Group"]])["SecurityGroups"]
    ports = {p["FromPort"] for p in group["IpPermissions"] if p.get("IpRanges")}
    assert ports == {27018}

    engine.destroy("Net")
    assert ec2().describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [ids["Vpc"]]}])["Vpcs"] == []


def test_a_new_cidr_replaces_the_subnet(engine: Engine) -> None:
    first = engine.deploy(stack(network())).resources["Subnet0"].physical_id
    template = network()
    template["Resources"]["Subnet0"]["Properties"]["CidrBlock"] = "10.0.9.0/24"
    second = engine.deploy(stack(template)).resources["Subnet0"].physical_id
    assert second != first
    assert ec2().describe_subnets(Filters=[{"Name": "subnet-id", "Values": [first]}])["Subnets"] == []
