"""Reading an event once into a typed, frozen request."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from copied_snapshot_runtime.request import MalformedEvent, Request, parse_request, unknown_type_reason
from copied_snapshot_runtime.resource import timed_out_reason
from tests.support.handler_harness import COPY_ARN, RULE_ARN, SIGNATURE, STACK_ID, event, properties

URL = f"https://cloudformation-custom-resource-response.example/response?{SIGNATURE}"


def test_an_event_becomes_a_frozen_request() -> None:
    message = event("Update", URL, properties(), physical_id=COPY_ARN, old_props=properties(Tags=[]))
    request = parse_request(message)
    assert (request.request_type, request.stack_id, request.logical_id) == ("Update", STACK_ID, "OrdersCopy")
    assert (request.physical_id, request.poll, request.stack_name) == (COPY_ARN, False, "SnapshotCopyStack")
    assert request.old_properties == properties(Tags=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.physical_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.properties["Tags"] = []  # type: ignore[index]
    assert SIGNATURE not in repr(request)


def test_a_poll_brings_its_data_and_rule() -> None:
    message: dict[str, Any] = {
        **event("Create", URL),
        "CrHelperPoll": True,
        "CrHelperData": {"SnapshotArn": COPY_ARN},
        "CrHelperRule": RULE_ARN,
    }
    request = parse_request(message)
    assert (request.poll, request.rule_arn, dict(request.data)) == (True, RULE_ARN, {"SnapshotArn": COPY_ARN})


@pytest.mark.parametrize("missing", ["StackId", "RequestId", "LogicalResourceId", "ResponseURL"])
def test_an_event_without_what_its_answer_needs_is_malformed(missing: str) -> None:
    message = event("Create", URL)
    del message[missing]
    with pytest.raises(MalformedEvent, match=f"lacks {missing}"):
        parse_request(message)


@pytest.mark.parametrize(
    "url",
    [
        f"not a url {SIGNATURE}",
        f"ftp://host/x?{SIGNATURE}",
        f"https://host/x?{SIGNATURE}\n",
        f"https:///x?{SIGNATURE}",
        f"https://[::1/x?{SIGNATURE}",
    ],
)
def test_an_unusable_response_url_is_malformed_and_never_quoted(url: str) -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_request(event("Create", url))
    assert SIGNATURE not in str(raised.value) and "ResponseURL" in str(raised.value)


@pytest.mark.parametrize("request_type", ["Created", "", "delete"])
def test_an_unknown_request_type_is_kept_to_be_refused_by_name(request_type: str) -> None:
    request = parse_request(event(request_type, URL))
    assert not request.known_type
    assert unknown_type_reason(request) == (
        f"unknown RequestType {request_type!r}; accepted are Create, Update, Delete"
    )


@pytest.mark.parametrize(
    ("resource_type", "construct", "thing"),
    [
        ("Custom::CopiedSnapshot", "CopiedSnapshot", "copy"),
        ("Custom::RestoredCluster", "RestoredCluster", "cluster"),
    ],
)
def test_a_timeout_reason_names_the_construct_and_replacement_of_its_resource_type(
    resource_type: str, construct: str, thing: str
) -> None:
    arn = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster/new-1"
    poll = Request(
        "Create", "stack", "req", "Logical", "https://x", poll=True, data={"TimeoutSeconds": 600},
        resource_type=resource_type,
    )  # fmt: skip
    assert timed_out_reason(poll, None) == f"Execution timed out after the 600 second {construct} timeout"
    update = Request("Update", "stack", "req", "Logical", "https://x", resource_type=resource_type)
    assert timed_out_reason(update, arn) == (
        f"Execution timed out; the replacement {thing} {arn} was started and is not this resource's: "
        "delete it once it is ACTIVE"
    )


@pytest.mark.parametrize(
    ("resource_type", "name_key", "thing"),
    [
        ("Custom::CopiedSnapshot", "TargetSnapshotName", "copy"),
        ("Custom::RestoredCluster", "ClusterName", "cluster"),
    ],
)
def test_a_timeout_reason_names_what_a_create_makes_and_a_delete_deletes(
    resource_type: str, name_key: str, thing: str
) -> None:
    arn = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster/new-1"
    create = Request(
        "Create", "stack", "req", "Logical", "https://x", properties={name_key: "orders-1"},
        resource_type=resource_type,
    )  # fmt: skip
    assert timed_out_reason(create, None) == f"Execution timed out making {thing} 'orders-1'"
    assert timed_out_reason(create, arn) == f"Execution timed out making {thing} {arn}"
    delete = Request(
        "Delete", "stack", "req", "Logical", "https://x", physical_id=arn, resource_type=resource_type
    )
    assert timed_out_reason(delete, None) == f"Execution timed out deleting {thing} {arn}"
