"""The local cloud's one endpoint and CloudFormation's API, through boto3 clients pointed at it: botocore
parsing the answers with its model of the service is the test of their shape."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_cloud.assembly import Stack
from local_cloud.cloud import SECRET_ACCESS_KEY, LocalCloud
from local_cloud.cloudformation.api import parse_params, service_model
from local_cloud.gateway import scope_service

REGION = "us-east-1"
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
