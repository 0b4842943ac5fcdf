"""What the handler tests need in place of CloudFormation, Lambda and AWS: a local response endpoint,
a Lambda context, events as CloudFormation sends them, and botocore Stubbers for docdb-elastic and
EventBridge (each stubbed request is checked against the service model)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from tests.support.constants import ACCOUNT, REGION, snapshot_arn

FUNCTION_NAME = "SnapshotCopyStack-CopiedSnapshotHandlerFunction"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SnapshotCopyStack/0f5c7a40-abcd-11ef-9d6b-0a1b2c3d4e5f"
)
SOURCE_ARN = snapshot_arn("source-1")
COPY_ARN = snapshot_arn("copy-1")
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/CopiedSnapshotabc-OrdersCopyABCDEFGH"
SIGNATURE = "X-Amz-Signature=0123456789abcdef"


class CloudFormationEndpoint:
    """Stands in for the pre-signed ResponseURL: records each PUT and answers with `statuses` in turn."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                endpoint.responses.append(json.loads(self.rfile.read(length)))
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/cloudformation-response?{SIGNATURE}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Context:
    function_name: str = FUNCTION_NAME
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    remaining_millis: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def properties(**overrides: Any) -> dict[str, Any]:
    return {
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}",
        "SourceSnapshotArn": SOURCE_ARN,
        "TargetSnapshotName": "orders-copy",
        "NameGenerated": "false",
        "CopyTags": "false",
        "TimeoutSeconds": "1800",
        "Tags": [{"Key": "team", "Value": "data"}],
        **overrides,
    }


def event(
    request_type: str,
    response_url: str,
    props: dict[str, Any] | None = None,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}",
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": f"{request_type.lower()}-request-1",
        "LogicalResourceId": "OrdersCopy",
        "ResourceType": "Custom::CopiedSnapshot",
        "ResourceProperties": props if props is not None else properties(),
    }
    if physical_id is not None:
        message["PhysicalResourceId"] = physical_id
    if old_props is not None:
        message["OldResourceProperties"] = old_props
    return message


def snapshot(
    status: str, arn: str = COPY_ARN, name: str = "orders-copy", kms_key_id: str | None = None
) -> dict[str, Any]:
    return {
        "adminUserName": "admin",
        "clusterArn": f"arn:aws:docdb-elastic:{REGION}:{ACCOUNT}:cluster/orders",
        "clusterCreationTime": "2026-11-01T00:00:00Z",
        "kmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/dr" if kms_key_id is None else kms_key_id,
        "snapshotArn": arn,
        "snapshotCreationTime": "2026-11-27T10:00:00Z",
        "snapshotName": name,
        "snapshotType": "MANUAL",
        "status": status,
        "subnetIds": ["subnet-1"],
        "vpcSecurityGroupIds": ["sg-1"],
    }


@dataclass
class Aws:
    """Stubbed clients; `calls` records (operation, params) of every request that reached a stub."""

    docdb: Stubber
    events: Stubber
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    # What ListTargetsByRule finds, asked at the start of every poll: "armed" (the rule and its target),
    # "no target", "gone" or "denied" (no permission). Answered outside the Stubber's queue, which tests
    # fill before each poll.
    rule: str = "armed"

    def list_targets(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("ListTargetsByRule", params))
        if self.rule in ("gone", "denied"):
            code = "ResourceNotFoundException" if self.rule == "gone" else "AccessDeniedException"
            error: Any = {"Error": {"Code": code, "Message": self.rule}}
            raise ClientError(error, "ListTargetsByRule")
        return {"Targets": [{"Id": "1", "Arn": "function"}] if self.rule == "armed" else []}

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def poll_event(self) -> dict[str, Any]:
        """The event crhelper stored as the polling rule's target Input, as EventBridge would send it."""
        [params] = [params for operation, params in self.calls if operation == "PutTargets"][-1:]
        return dict(json.loads(params["Targets"][0]["Input"]))

    def expect_polling_setup(self) -> None:
        self.events.add_response(
            "put_rule",
            {"RuleArn": RULE_ARN},
            {"Name": ANY, "ScheduleExpression": "rate(1 minute)", "State": "ENABLED"},
        )
        self.events.add_response(
            "put_targets", {"FailedEntryCount": 0, "FailedEntries": []}, {"Rule": ANY, "Targets": ANY}
        )

    def expect_polling_teardown(self) -> None:
        rule_name = RULE_ARN.split("/")[1]
        self.events.add_response("remove_targets", {"FailedEntryCount": 0}, {"Rule": rule_name, "Ids": ["1"]})
        self.events.add_response("delete_rule", {}, {"Name": rule_name})

    def expect_source(self, arn: str = SOURCE_ARN) -> None:
        """The source snapshot as the handler reads it first."""
        self.docdb.add_response(
            "get_cluster_snapshot",
            {"snapshot": snapshot("ACTIVE", arn=arn, name="source-1")},
            {"snapshotArn": arn},
        )

    def expect_delete(self, arn: str = COPY_ARN) -> None:
        self.docdb.add_response(
            "delete_cluster_snapshot", {"snapshot": snapshot("DELETING", arn)}, {"snapshotArn": arn}
        )

    def expect_delete_refused(self, code: str, status: int, arn: str = COPY_ARN) -> None:
        self.docdb.add_client_error(
            "delete_cluster_snapshot", code, "refused", status, expected_params={"snapshotArn": arn}
        )

    def expect_tags(self, tags: dict[str, str] | None, arn: str = COPY_ARN) -> None:
        """ListTagsForResource of `arn`: these tags, or ResourceNotFound for None."""
        if tags is None:
            self.docdb.add_client_error(
                "list_tags_for_resource",
                "ResourceNotFoundException",
                "not found",
                404,
                expected_params={"resourceArn": arn},
            )
        else:
            self.docdb.add_response("list_tags_for_resource", {"tags": tags}, {"resourceArn": arn})

    def expect_get(self, status: str, arn: str = COPY_ARN) -> None:
        self.docdb.add_response(
            "get_cluster_snapshot", {"snapshot": snapshot(status, arn)}, {"snapshotArn": arn}
        )

    def expect_gone(self, arn: str = COPY_ARN) -> None:
        self.docdb.add_client_error(
            "get_cluster_snapshot",
            "ResourceNotFoundException",
            "not found",
            404,
            expected_params={"snapshotArn": arn},
        )


def stubbed_clients() -> Iterator[tuple[Any, Any, Aws]]:
    docdb = boto3.client("docdb-elastic", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    aws = Aws(Stubber(docdb), Stubber(events))
    for client in (docdb, events):
        client.meta.events.register(
            "provide-client-params.*.*",
            lambda params, model, **_: aws.calls.append((model.name, dict(params))),
        )
    events.list_targets_by_rule = aws.list_targets
    with aws.docdb, aws.events:
        yield docdb, events, aws
