"""The local cloud's one endpoint and CloudFormation's API, through boto3 clients pointed at it: botocore
parsing the answers with its model of the service is the test of their shape."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.cloud import SECRET_ACCESS_KEY, LocalCloud
from copied_snapshot_local_cloud.cloudformation.api import (
    ApiError,
    parameter_values,
    parse_params,
    s3_location,
    service_model,
)
from copied_snapshot_local_cloud.cloudformation.bootstrap_providers import enforceable
from copied_snapshot_local_cloud.gateway import moto_headers, scope_service
from copied_snapshot_local_cloud.persistence import SERVICES_FILE
from tests.support.constants import REGION

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/api/setting", "Value": "on"}},
    },
    "Outputs": {
        "SettingName": {
            "Value": {"Ref": "Setting"},
            "Description": "the parameter's name",
            "Export": {"Name": "api-setting-name"},
        },
        "Plain": {"Value": "just text"},
    },
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tmp_path_factory.mktemp("cfn-api"), gateway=True, fresh=True) as started:
        started.bootstrap(REGION)
        started.engine.deploy(
            Stack("Api", "Api", TEMPLATE, account=started.account, region=REGION, dependencies=())
        )
        yield started


def client(cloud: LocalCloud, service: str, region: str = REGION) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=cloud.gateway_url,
        region_name=region,
        aws_access_key_id=cloud.account,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def test_describe_stacks_by_name_and_by_id(cloud: LocalCloud) -> None:
    cfn = client(cloud, "cloudformation")
    [stack] = cfn.describe_stacks(StackName="Api")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith(f"arn:aws:cloudformation:{REGION}:{cloud.account}:stack/Api/")
    outputs = {output["OutputKey"]: output for output in stack["Outputs"]}
    assert outputs["SettingName"] == {
        "OutputKey": "SettingName",
        "OutputValue": "/api/setting",
        "Description": "the parameter's name",
        "ExportName": "api-setting-name",
    }
    assert outputs["Plain"] == {"OutputKey": "Plain", "OutputValue": "just text"}
    assert cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackName"] == "Api"
    assert [listed["StackName"] for listed in cfn.describe_stacks()["Stacks"]] == ["Api"]


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("Nope", REGION),
        ("Api", "eu-west-1"),  # stacks live in their region
        ("arn:aws:cloudformation:us-east-1:123456789012:stack/Api/not-its-id", REGION),
    ],
)
def test_a_stack_that_does_not_exist_is_the_validation_error_the_cli_expects(
    cloud: LocalCloud, name: str, region: str
) -> None:
    with pytest.raises(ClientError) as raised:
        client(cloud, "cloudformation", region).describe_stacks(StackName=name)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["Error"]["Message"] == f"Stack with id {name} does not exist"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_stack_events_newest_first(cloud: LocalCloud) -> None:
    events = client(cloud, "cloudformation").describe_stack_events(StackName="Api")["StackEvents"]
    seen = [(event["LogicalResourceId"], event["ResourceStatus"]) for event in events]
    assert seen == [
        ("Api", "CREATE_COMPLETE"),
        ("Setting", "CREATE_COMPLETE"),
        ("Setting", "CREATE_IN_PROGRESS"),
        ("Api", "CREATE_IN_PROGRESS"),
    ]
    assert len({event["EventId"] for event in events}) == len(events)
    assert events[0]["PhysicalResourceId"] == events[0]["StackId"]
    assert events[1]["PhysicalResourceId"] == "/api/setting"
    assert events[0]["Timestamp"] >= events[-1]["Timestamp"]


def test_stack_resources(cloud: LocalCloud) -> None:
    cfn = client(cloud, "cloudformation")
    [summary] = cfn.list_stack_resources(StackName="Api")["StackResourceSummaries"]
    assert (summary["LogicalResourceId"], summary["PhysicalResourceId"], summary["ResourceType"]) == (
        "Setting",
        "/api/setting",
        "AWS::SSM::Parameter",
    )
    assert summary["ResourceStatus"] == "CREATE_COMPLETE"
    [resource] = cfn.describe_stack_resources(StackName="Api")["StackResources"]
    assert resource["StackName"] == "Api"
    assert resource["PhysicalResourceId"] == "/api/setting"


def test_template_and_exports(cloud: LocalCloud) -> None:
    cfn = client(cloud, "cloudformation")
    assert cfn.get_template(StackName="Api")["TemplateBody"] == TEMPLATE
    [export] = cfn.list_exports()["Exports"]
    assert (export["Name"], export["Value"]) == ("api-setting-name", "/api/setting")
    assert client(cloud, "cloudformation", "eu-west-1").list_exports()["Exports"] == []


def test_an_action_not_implemented_is_refused_by_name(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError) as raised:
        client(cloud, "cloudformation").list_stack_sets()
    assert raised.value.response["Error"]["Code"] == "InvalidAction"


def test_other_services_reach_moto_and_the_docdb_elastic_service(cloud: LocalCloud) -> None:
    ssm = client(cloud, "ssm")
    assert ssm.get_parameter(Name="/api/setting")["Parameter"]["Value"] == "on"
    s3 = client(cloud, "s3")
    s3.create_bucket(Bucket="gateway-bucket")
    s3.put_object(Bucket="gateway-bucket", Key="a b/c+d.txt", Body=b"through the gateway")
    assert s3.get_object(Bucket="gateway-bucket", Key="a b/c+d.txt")["Body"].read() == b"through the gateway"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "gateway-bucket", "Key": "a b/c+d.txt"})
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"through the gateway"
    assert client(cloud, "sts").get_caller_identity()["Account"] == cloud.account
    assert client(cloud, "docdb-elastic").list_clusters()["clusters"] == []


def test_forwarded_answers_carry_one_date(cloud: LocalCloud) -> None:
    s3 = client(cloud, "s3")
    headers: list[Any] = []
    s3.meta.events.register(
        "after-call.s3.ListBuckets", lambda http_response, **_: headers.append(http_response.headers)
    )
    s3.list_buckets()
    [answer] = headers
    assert "," not in answer["Date"].split(" ", 1)[1]  # one date, not two joined
    assert "," not in answer.get("Server", "")


def test_a_key_of_12_digits_is_that_account_for_moto_and_other_keys_are_left_to_moto() -> None:
    assert moto_headers({"Host": "h"}, "111122223333") == {"Host": "h", "x-moto-account-id": "111122223333"}
    assert moto_headers({"Host": "h"}, "ASIAEXAMPLE") == {"Host": "h"}
    assert moto_headers({"X-Moto-Account-Id": "1"}, "111122223333") == {"X-Moto-Account-Id": "1"}


def test_the_scope_names_the_service() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIA123/20260101/eu-west-1/cloudformation/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert scope_service(header, None) == "cloudformation"
    assert scope_service(None, "AKIA123/20260101/us-east-1/docdb-elastic/aws4_request") == "docdb-elastic"
    assert scope_service(None, None) == ""


def test_query_parameters_parse_by_the_model() -> None:
    shape = service_model().operation_model("CreateChangeSet").input_shape
    parsed = parse_params(
        shape,
        {
            "StackName": "S",
            "Parameters.member.1.ParameterKey": "A",
            "Parameters.member.1.ParameterValue": "1",
            "Parameters.member.2.ParameterKey": "B",
            "Parameters.member.2.UsePreviousValue": "true",
            "Capabilities.member.1": "CAPABILITY_IAM",
            "Tags": "",
        },
    )
    assert parsed == {
        "StackName": "S",
        "Parameters": [
            {"ParameterKey": "A", "ParameterValue": "1"},
            {"ParameterKey": "B", "UsePreviousValue": True},
        ],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [],
    }
    assert json.loads(json.dumps(parsed)) == parsed


def test_gateway_url_needs_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a gateway"):
        _ = LocalCloud(tmp_path).gateway_url


def wait_for(cfn: Any, stack: str, statuses: set[str]) -> dict[str, Any]:
    for _ in range(1200):
        [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
        if described["StackStatus"] in statuses:
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"{stack} is still {described['StackStatus']}")


def parameter_template(name: str) -> dict[str, Any]:
    return {
        "Parameters": {
            "Value": {"Type": "String", "Default": "from-default"},
            "Names": {"Type": "CommaDelimitedList", "Default": "a,b"},
        },
        "Resources": {
            "Setting": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": name,
                    "Value": {"Fn::Join": ["/", [{"Ref": "Value"}, {"Fn::Join": ["/", {"Ref": "Names"}]}]]},
                },
            }
        },
    }


def test_a_change_set_creates_then_updates_then_finds_no_changes(cloud: LocalCloud) -> None:
    cfn, ssm = client(cloud, "cloudformation"), client(cloud, "ssm")
    body = json.dumps(parameter_template("/api/changes"))
    made = cfn.create_change_set(
        StackName="Changes", ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=body
    )
    assert cfn.describe_stacks(StackName=made["StackId"])["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cfn.describe_change_set(StackName="Changes", ChangeSetName=made["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [change["ResourceChange"]["Action"] for change in described["Changes"]] == ["Add"]
    cfn.execute_change_set(StackName=made["StackId"], ChangeSetName=made["Id"])
    assert wait_for(cfn, made["StackId"], {"CREATE_COMPLETE"})["Parameters"] == [
        {"ParameterKey": "Value", "ParameterValue": "from-default"},
        {"ParameterKey": "Names", "ParameterValue": "a,b"},
    ]
    assert ssm.get_parameter(Name="/api/changes")["Parameter"]["Value"] == "from-default/a/b"

    given = [
        {"ParameterKey": "Value", "ParameterValue": "given"},
        {"ParameterKey": "Names", "UsePreviousValue": True},
    ]
    update = cfn.create_change_set(
        StackName="Changes", ChangeSetName="two", ChangeSetType="UPDATE", TemplateBody=body, Parameters=given
    )
    cfn.execute_change_set(StackName="Changes", ChangeSetName="two")
    wait_for(cfn, update["StackId"], {"UPDATE_COMPLETE"})
    assert ssm.get_parameter(Name="/api/changes")["Parameter"]["Value"] == "given/a/b"

    same = cfn.create_change_set(
        StackName="Changes",
        ChangeSetName="three",
        ChangeSetType="UPDATE",
        UsePreviousTemplate=True,
        Parameters=given,
    )
    none = cfn.describe_change_set(ChangeSetName=same["Id"])
    assert none["Status"] == "FAILED"
    assert none["StatusReason"].startswith("The submitted information didn't contain changes.")
    cfn.delete_change_set(ChangeSetName=same["Id"])
    with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
        cfn.describe_change_set(ChangeSetName=same["Id"])

    cfn.delete_stack(StackName="Changes")
    assert wait_for(cfn, made["StackId"], {"DELETE_COMPLETE"})["StackName"] == "Changes"
    with pytest.raises(ClientError, match="Stack with id Changes does not exist"):
        cfn.describe_stacks(StackName="Changes")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/api/changes")


def test_a_create_that_rolls_back_stays_until_deleted(cloud: LocalCloud) -> None:
    cfn = client(cloud, "cloudformation")
    taken = json.dumps(parameter_template("/api/setting"))  # the Api stack's parameter: it exists
    made = cfn.create_change_set(
        StackName="Clash", ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=taken
    )
    with pytest.raises(ClientError) as raised:
        cfn.create_change_set(StackName="Api", ChangeSetName="x", ChangeSetType="CREATE", TemplateBody=taken)
    assert raised.value.response["Error"]["Code"] == "AlreadyExistsException"
    cfn.execute_change_set(ChangeSetName=made["Id"])
    assert (
        wait_for(cfn, "Clash", {"ROLLBACK_COMPLETE", "CREATE_COMPLETE"})["StackStatus"] == "ROLLBACK_COMPLETE"
    )
    reasons = [
        event.get("ResourceStatusReason", "")
        for event in cfn.describe_stack_events(StackName="Clash")["StackEvents"]
    ]
    assert any("Setting" in reason for reason in reasons)
    cfn.delete_stack(StackName="Clash")
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName="Clash")


def test_missing_parameters_are_named() -> None:
    template = {"Parameters": {"Needed": {"Type": "String"}}}
    with pytest.raises(ApiError, match=r"Parameters: \[Needed\] must have values"):
        parameter_values(template, [], {})


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://s3.us-east-1.amazonaws.com/bucket/dir/t.json", ("bucket", "dir/t.json")),
        ("https://bucket.s3.eu-west-1.amazonaws.com/t%20x.json", ("bucket", "t x.json")),
        ("http://127.0.0.1:4566/bucket/t.json", ("bucket", "t.json")),
    ],
)
def test_template_urls(url: str, location: tuple[str, str]) -> None:
    assert s3_location(url) == location


def test_moto_gets_the_bucket_policy_without_conditional_denies() -> None:
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Principal": "*", "Resource": "*"}
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Principal": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert enforceable({"Version": "2012-10-17", "Statement": [deny, allow]})["Statement"] == [allow]


def test_the_bootstrap_types_are_made_and_deleted_in_moto(cloud: LocalCloud) -> None:
    template: dict[str, Any] = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}},
            "Alias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/boot-test", "TargetKeyId": {"Ref": "Key"}},
            },
            "Boundary": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": "boot-boundary",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    },
                },
            },
            "Repository": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "boot-images"}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "boot-staging"}},
        },
        "Outputs": {
            "Domain": {"Value": {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]}},
            "Uri": {"Value": {"Fn::GetAtt": ["Repository", "RepositoryUri"]}},
            "Policy": {"Value": {"Ref": "Boundary"}},
        },
    }
    deployed = cloud.engine.deploy(
        Stack("Boot", "Boot", template, account=cloud.account, region=REGION, dependencies=())
    )
    assert deployed.outputs["Domain"] == f"boot-staging.s3.{REGION}.amazonaws.com"
    assert str(deployed.outputs["Uri"]).endswith("/boot-images")
    assert deployed.outputs["Policy"] == f"arn:aws:iam::{cloud.account}:policy/boot-boundary"
    aliases = [a["AliasName"] for a in client(cloud, "kms").list_aliases()["Aliases"]]
    assert "alias/boot-test" in aliases
    assert cloud.engine.destroy("Boot")
    assert "alias/boot-test" not in [a["AliasName"] for a in client(cloud, "kms").list_aliases()["Aliases"]]
    assert client(cloud, "ecr").describe_repositories()["repositories"] == []
    assert "boot-staging" not in [b["Name"] for b in client(cloud, "s3").list_buckets()["Buckets"]]
    with pytest.raises(ClientError, match="NoSuchEntity"):
        client(cloud, "iam").get_policy(PolicyArn=deployed.outputs["Policy"])


def test_create_stack_and_update_stack_as_the_cli_calls_them_with_method_direct(cloud: LocalCloud) -> None:
    cfn, ssm = client(cloud, "cloudformation"), client(cloud, "ssm")
    body = json.dumps(parameter_template("/api/direct"))
    made = cfn.create_stack(StackName="Direct", TemplateBody=body)
    created = wait_for(cfn, made["StackId"], {"CREATE_COMPLETE", "ROLLBACK_COMPLETE"})
    assert created["StackStatus"] == "CREATE_COMPLETE"
    # A settled operation is a safe point: the services' state is saved with the new stack.
    for _ in range(200):
        if "Direct" in json.loads((cloud.state_dir / SERVICES_FILE).read_text())["stacks"]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the services' state was not saved after the stack was created")
    events = cfn.describe_stack_events(StackName="Direct")["StackEvents"]
    assert events[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS"  # no review: CreateStack starts at once
    with pytest.raises(ClientError) as raised:
        cfn.create_stack(StackName="Direct", TemplateBody=body)
    assert raised.value.response["Error"]["Code"] == "AlreadyExistsException"

    given = [{"ParameterKey": "Value", "ParameterValue": "given"}]
    assert (
        cfn.update_stack(StackName="Direct", TemplateBody=body, Parameters=given)["StackId"]
        == made["StackId"]
    )
    wait_for(cfn, "Direct", {"UPDATE_COMPLETE"})
    assert ssm.get_parameter(Name="/api/direct")["Parameter"]["Value"] == "given/a/b"
    with pytest.raises(ClientError) as raised:
        cfn.update_stack(StackName="Direct", UsePreviousTemplate=True, Parameters=given)
    assert raised.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "No updates are to be performed.",
    }
    with pytest.raises(ClientError, match="Stack \\[Missing\\] does not exist"):
        cfn.update_stack(StackName="Missing", TemplateBody=body)
    cfn.delete_stack(StackName="Direct")
    wait_for(cfn, made["StackId"], {"DELETE_COMPLETE"})
