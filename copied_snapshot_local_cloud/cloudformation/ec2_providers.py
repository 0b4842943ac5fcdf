"""What `ec2.Vpc` (isolated subnets only: no NAT, internet gateway or routes) and `ec2.SecurityGroup`
synthesize, made in moto's EC2 so that ids are real-looking and AWS clients (the docdb-elastic handler's
network checks) find them.

A property that the resource type documents as needing replacement makes a new resource; the engine deletes
the old one at cleanup, as CloudFormation does. Tags and security group rules change in place.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from copied_snapshot_local_cloud.cloudformation.providers import Change, Outcome

# Which properties replace the resource when they change (AWS CloudFormation User Guide, the resource type
# reference of each type: "Update requires: Replacement"); the others are changed in place or not used here.
_REPLACED_BY = {
    "AWS::EC2::VPC": ("CidrBlock", "InstanceTenancy", "Ipv4IpamPoolId"),
    "AWS::EC2::Subnet": ("AvailabilityZone", "CidrBlock", "VpcId"),
    "AWS::EC2::RouteTable": ("VpcId",),
    "AWS::EC2::SubnetRouteTableAssociation": ("SubnetId", "RouteTableId"),
    "AWS::EC2::SecurityGroup": ("GroupDescription", "GroupName", "VpcId"),
    "AWS::EC2::SecurityGroupIngress": (
        "GroupId",
        "IpProtocol",
        "FromPort",
        "ToPort",
        "CidrIp",
        "CidrIpv6",
        "SourceSecurityGroupId",
    ),
    "AWS::EC2::SecurityGroupEgress": (
        "GroupId",
        "IpProtocol",
        "FromPort",
        "ToPort",
        "CidrIp",
        "CidrIpv6",
        "DestinationSecurityGroupId",
    ),
}


def replaced(change: Change) -> bool:
    """Whether the change needs a new resource (always, for a resource without an id yet)."""
    old = change.old_properties or {}
    keys = _REPLACED_BY.get(change.type, ())
    return change.physical_id is None or any(old.get(key) != change.properties.get(key) for key in keys)


def _tags(properties: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in properties.get("Tags") or []]


def _tag_specification(resource_type: str, properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    tags = _tags(properties)
    return [{"ResourceType": resource_type, "Tags": tags}] if tags else []


def _retag(ec2: Any, resource_id: str, change: Change) -> None:
    """Sets the new tags and removes the ones the template no longer has."""
    new = {tag["Key"]: tag["Value"] for tag in _tags(change.properties)}
    gone = [tag["Key"] for tag in _tags(change.old_properties or {}) if tag["Key"] not in new]
    if gone:
        ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": key} for key in gone])
    if new:
        ec2.create_tags(Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in new.items()])


def _ignore_missing(call: Any, **arguments: Any) -> None:
    """Deletes something that may already be gone (a rollback after a partial create)."""
    try:
        call(**arguments)
    except Exception as error:  # moto answers the EC2 error codes of a missing resource
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if not code.endswith((".NotFound", ".Malformed")) and code != "InvalidPermission.NotFound":
            raise


class Ec2Resource(ABC):
    """Create, replace and delete through the type's methods; tags change in place."""

    @abstractmethod
    def create(self, change: Change) -> Outcome: ...

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        return {}

    def update(self, change: Change) -> Outcome:
        if replaced(change):
            return self.create(change)
        assert change.physical_id is not None
        self.update_in_place(change, change.physical_id)
        return Outcome(change.physical_id, self.attributes(change, change.physical_id))

    def update_in_place(self, change: Change, resource_id: str) -> None:
        _retag(change.client("ec2"), resource_id, change)

    @abstractmethod
    def delete(self, change: Change) -> None: ...


class Vpc(Ec2Resource):
    def create(self, change: Change) -> Outcome:
        ec2 = change.client("ec2")
        props = change.properties
        vpc = ec2.create_vpc(
            CidrBlock=str(props["CidrBlock"]),
            InstanceTenancy=str(props.get("InstanceTenancy", "default")),
            TagSpecifications=_tag_specification("vpc", props),
        )["Vpc"]
        vpc_id = str(vpc["VpcId"])
        self.update_in_place(change, vpc_id)
        return Outcome(vpc_id, self.attributes(change, vpc_id))

    def update_in_place(self, change: Change, resource_id: str) -> None:
        ec2 = change.client("ec2")
        for name in ("EnableDnsSupport", "EnableDnsHostnames"):
            if name in change.properties:
                value = str(change.properties[name]).lower() == "true"
                ec2.modify_vpc_attribute(VpcId=resource_id, **{name: {"Value": value}})
        if change.physical_id is not None:
            _retag(ec2, resource_id, change)

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        ec2 = change.client("ec2")
        [vpc] = ec2.describe_vpcs(VpcIds=[resource_id])["Vpcs"]
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [resource_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        acls = ec2.describe_network_acls(
            Filters=[{"Name": "vpc-id", "Values": [resource_id]}, {"Name": "default", "Values": ["true"]}]
        )["NetworkAcls"]
        return {
            "VpcId": resource_id,
            "CidrBlock": vpc["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"] for a in vpc.get("CidrBlockAssociationSet", [])],
            "DefaultSecurityGroup": groups[0]["GroupId"] if groups else "",
            "DefaultNetworkAcl": acls[0]["NetworkAclId"] if acls else "",
            "Ipv6CidrBlocks": [],
        }

    def delete(self, change: Change) -> None:
        ec2 = change.client("ec2")
        _ignore_missing(ec2.delete_vpc, VpcId=change.physical_id)


class Subnet(Ec2Resource):
    def create(self, change: Change) -> Outcome:
        props = change.properties
        subnet = change.client("ec2").create_subnet(
            VpcId=str(props["VpcId"]),
            CidrBlock=str(props["CidrBlock"]),
            AvailabilityZone=str(props["AvailabilityZone"]),
            TagSpecifications=_tag_specification("subnet", props),
        )["Subnet"]
        subnet_id = str(subnet["SubnetId"])
        return Outcome(subnet_id, self.attributes(change, subnet_id))

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        [subnet] = change.client("ec2").describe_subnets(SubnetIds=[resource_id])["Subnets"]
        return {
            "SubnetId": resource_id,
            "AvailabilityZone": subnet["AvailabilityZone"],
            "AvailabilityZoneId": subnet.get("AvailabilityZoneId", ""),
            "CidrBlock": subnet["CidrBlock"],
            "VpcId": subnet["VpcId"],
            "Ipv6CidrBlocks": [],
            "NetworkAclAssociationId": "",
            "OutpostArn": "",
        }

    def delete(self, change: Change) -> None:
        _ignore_missing(change.client("ec2").delete_subnet, SubnetId=change.physical_id)


class RouteTable(Ec2Resource):
    def create(self, change: Change) -> Outcome:
        table = change.client("ec2").create_route_table(
            VpcId=str(change.properties["VpcId"]),
            TagSpecifications=_tag_specification("route-table", change.properties),
        )["RouteTable"]
        table_id = str(table["RouteTableId"])
        return Outcome(table_id, {"RouteTableId": table_id})

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        return {"RouteTableId": resource_id}

    def delete(self, change: Change) -> None:
        _ignore_missing(change.client("ec2").delete_route_table, RouteTableId=change.physical_id)


class SubnetRouteTableAssociation(Ec2Resource):
    def create(self, change: Change) -> Outcome:
        answer = change.client("ec2").associate_route_table(
            SubnetId=str(change.properties["SubnetId"]), RouteTableId=str(change.properties["RouteTableId"])
        )
        association_id = str(answer["AssociationId"])
        return Outcome(association_id, {"Id": association_id})

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        return {"Id": resource_id}

    def update_in_place(self, change: Change, resource_id: str) -> None:
        return None  # no tags

    def delete(self, change: Change) -> None:
        _ignore_missing(change.client("ec2").disassociate_route_table, AssociationId=change.physical_id)


def _permissions(rules: Sequence[Mapping[str, Any]], *, ingress: bool) -> list[dict[str, Any]]:
    """EC2 IpPermissions for CloudFormation's rule objects (CidrIp, source or destination group)."""
    permissions = []
    for rule in rules:
        permission: dict[str, Any] = {"IpProtocol": str(rule.get("IpProtocol", "-1"))}
        if "FromPort" in rule:
            permission["FromPort"] = int(rule["FromPort"])
        if "ToPort" in rule:
            permission["ToPort"] = int(rule["ToPort"])
        description = {"Description": str(rule["Description"])} if rule.get("Description") else {}
        group = rule.get("SourceSecurityGroupId" if ingress else "DestinationSecurityGroupId")
        if rule.get("CidrIp"):
            permission["IpRanges"] = [{"CidrIp": str(rule["CidrIp"]), **description}]
        elif rule.get("CidrIpv6"):
            permission["Ipv6Ranges"] = [{"CidrIpv6": str(rule["CidrIpv6"]), **description}]
        elif group:
            permission["UserIdGroupPairs"] = [{"GroupId": str(group), **description}]
        permissions.append(permission)
    return permissions


class SecurityGroup(Ec2Resource):
    """A group whose inline rules are the template's; without egress rules it allows all outbound, as in AWS
    (AWS::EC2::SecurityGroup, SecurityGroupEgress)."""

    def create(self, change: Change) -> Outcome:
        props = change.properties
        ec2 = change.client("ec2")
        arguments: dict[str, Any] = {
            "Description": str(props["GroupDescription"]),
            "GroupName": str(props.get("GroupName") or f"{change.stack.stack_name}-{change.logical_id}")[
                :255
            ],
            "TagSpecifications": _tag_specification("security-group", props),
        }
        if props.get("VpcId"):
            arguments["VpcId"] = str(props["VpcId"])
        group_id = str(ec2.create_security_group(**arguments)["GroupId"])
        self._set_rules(ec2, group_id, props, {})
        return Outcome(group_id, self.attributes(change, group_id))

    def update_in_place(self, change: Change, resource_id: str) -> None:
        ec2 = change.client("ec2")
        self._set_rules(ec2, resource_id, change.properties, change.old_properties or {})
        _retag(ec2, resource_id, change)

    def _set_rules(self, ec2: Any, group_id: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        if old:
            revoke_in = _permissions(old.get("SecurityGroupIngress") or [], ingress=True)
            if revoke_in:
                ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=revoke_in)
        [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        current_out = group.get("IpPermissionsEgress", [])
        if current_out:
            ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=current_out)
        ingress = _permissions(new.get("SecurityGroupIngress") or [], ingress=True)
        if ingress:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ingress)
        egress = _permissions(new.get("SecurityGroupEgress") or [], ingress=False) or [
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ]
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=egress)

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        [group] = change.client("ec2").describe_security_groups(GroupIds=[resource_id])["SecurityGroups"]
        return {"GroupId": resource_id, "VpcId": group.get("VpcId", ""), "Id": resource_id}

    def delete(self, change: Change) -> None:
        _ignore_missing(change.client("ec2").delete_security_group, GroupId=change.physical_id)


class SecurityGroupRule(Ec2Resource):
    """AWS::EC2::SecurityGroupIngress or Egress: one rule added to a group; its id is made up, as AWS's."""

    def __init__(self, *, ingress: bool) -> None:
        self._ingress = ingress

    def _call(self, change: Change, properties: Mapping[str, Any], verb: str) -> None:
        ec2 = change.client("ec2")
        direction = "ingress" if self._ingress else "egress"
        getattr(ec2, f"{verb}_security_group_{direction}")(
            GroupId=str(properties["GroupId"]),
            IpPermissions=_permissions([properties], ingress=self._ingress),
        )

    def create(self, change: Change) -> Outcome:
        self._call(change, change.properties, "authorize")
        rule_id = f"sgr-{secrets.token_hex(9)[:17]}"
        return Outcome(rule_id, {"Id": rule_id})

    def attributes(self, change: Change, resource_id: str) -> dict[str, Any]:
        return {"Id": resource_id}

    def update_in_place(self, change: Change, resource_id: str) -> None:
        if change.old_properties is not None and change.old_properties != change.properties:
            self._call(change, change.old_properties, "revoke")
            self._call(change, change.properties, "authorize")

    def delete(self, change: Change) -> None:
        if change.properties.get("GroupId"):
            ec2 = change.client("ec2")
            direction = "ingress" if self._ingress else "egress"
            _ignore_missing(
                getattr(ec2, f"revoke_security_group_{direction}"),
                GroupId=str(change.properties["GroupId"]),
                IpPermissions=_permissions([change.properties], ingress=self._ingress),
            )


def ec2_providers() -> dict[str, Ec2Resource]:
    """The EC2 resource types the local cloud deploys, each with its provider."""
    return {
        "AWS::EC2::VPC": Vpc(),
        "AWS::EC2::Subnet": Subnet(),
        "AWS::EC2::RouteTable": RouteTable(),
        "AWS::EC2::SubnetRouteTableAssociation": SubnetRouteTableAssociation(),
        "AWS::EC2::SecurityGroup": SecurityGroup(),
        "AWS::EC2::SecurityGroupIngress": SecurityGroupRule(ingress=True),
        "AWS::EC2::SecurityGroupEgress": SecurityGroupRule(ingress=False),
    }
