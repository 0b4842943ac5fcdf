"""Routing and validation of the local docdb-elastic service, both derived from botocore's model."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.serialize import create_serializer

from copied_snapshot_local_cloud.docdb_elastic import errors, routing, service_model
from copied_snapshot_local_cloud.docdb_elastic.operations import SUPPORTED

SNAPSHOT_ARN = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/abc-123"


def sample_params(operation: str) -> dict[str, Any]:
    """Every URI label of an operation filled with an ARN, as a client would send them."""
    shape = service_model.operation_model(operation).input_shape
    if shape is None:
        return {}
    return {
        name: SNAPSHOT_ARN
        for name, member in shape.members.items()
        if member.serialization.get("location") == "uri"
    }


@pytest.mark.parametrize("operation", service_model.service_model().operation_names)
def test_every_modelled_operation_routes_from_the_request_botocore_builds(operation: str) -> None:
    model = service_model.operation_model(operation)
    params = sample_params(operation)
    request = create_serializer("rest-json", include_validation=False).serialize_to_request(params, model)
    found = routing.match(request["method"], request["url_path"])
    assert found is not None
    assert found.operation == operation
    assert found.labels == params


def test_supported_operations_are_the_ones_the_issue_names() -> None:
    assert set(SUPPORTED) == {
        "CreateCluster",
        "RestoreClusterFromSnapshot",
        "GetCluster",
        "ListClusters",
        "UpdateCluster",
        "DeleteCluster",
        "CreateClusterSnapshot",
        "CopyClusterSnapshot",
        "GetClusterSnapshot",
        "ListClusterSnapshots",
        "DeleteClusterSnapshot",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
    }


def test_a_literal_route_is_not_read_as_a_label() -> None:
    listed = routing.match("GET", "/cluster-snapshots")
    assert listed is not None
    assert listed.operation == "ListClusterSnapshots"
    assert routing.match("GET", "/cluster-snapshot/a/b/c") is None
    assert routing.match("PATCH", "/cluster-snapshots") is None


def problems_of(shape_name: str, value: Any) -> list[tuple[str, str]]:
    shape = service_model.service_model().shape_for(shape_name)
    return [(problem.name, problem.message) for problem in service_model.problems(shape, value)]


def test_validation_reads_required_members_lengths_and_types_from_the_model() -> None:
    found = problems_of("CopyClusterSnapshotInput", {"targetSnapshotName": "", "copyTags": "true"})
    assert found == [
        ("snapshotArn", "Member must not be null"),
        ("targetSnapshotName", "Member must have length greater than or equal to 1"),
        ("copyTags", "Member must be a boolean"),
    ]


def test_validation_checks_map_keys_patterns_and_value_lengths() -> None:
    found = problems_of(
        "TagResourceRequest", {"resourceArn": SNAPSHOT_ARN, "tags": {"aws:x": "v", "k": "v" * 300}}
    )
    assert found == [
        (
            "tags",
            "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
            "^(?!aws:)[a-zA-Z+-=._:/]+$]",
        ),
        ("tags.k", "Member must have length less than or equal to 256"),
    ]


def test_validation_checks_enums_integer_ranges_and_list_sizes() -> None:
    found = problems_of(
        "CreateClusterInput",
        {
            "adminUserName": "admin",
            "adminUserPassword": "secret-password",
            "authType": "KERBEROS",
            "clusterName": "orders",
            "shardCapacity": 2,
            "shardCount": True,
            "subnetIds": "subnet-1",
        },
    )
    assert found == [
        ("authType", "Member must satisfy enum value set: [PLAIN_TEXT, SECRET_ARN]"),
        ("shardCount", "Member must be an integer"),
        ("subnetIds", "Member must be a list"),
    ]
    ranged = problems_of("ListClusterSnapshotsInput", {"maxResults": 500})
    assert ranged == [("maxResults", "Member must have value less than or equal to 100")]
    too_many = problems_of("UntagResourceRequest", {"resourceArn": SNAPSHOT_ARN, "tagKeys": ["k"] * 51})
    assert too_many == [("tagKeys", "Member must have length less than or equal to 50")]


def test_sensitive_members_never_appear_in_messages_or_logs() -> None:
    shape = service_model.service_model().shape_for("CreateClusterInput")
    params = {"adminUserPassword": 12345, "clusterName": "orders"}
    found = list(service_model.problems(shape, params))
    message = service_model.validation_message(found)
    assert "12345" not in message
    assert "Value '*** sensitive ***' at 'adminUserPassword'" in message
    assert service_model.redacted(shape, params) == {
        "adminUserPassword": "*** sensitive ***",
        "clusterName": "orders",
    }


def test_error_statuses_come_from_the_model() -> None:
    expected = {
        "ValidationException": 400,
        "ServiceQuotaExceededException": 402,
        "AccessDeniedException": 403,
        "ResourceNotFoundException": 404,
        "ConflictException": 409,
        "ThrottlingException": 429,
        "InternalServerException": 500,
    }
    assert set(expected) == errors.INJECTABLE
    assert {code: service_model.error_status(code) for code in expected} == expected
    assert service_model.error_status("NotAModelledError") == 500


# -- whole values --------------------------------------------------------------------------------------------


def test_model_patterns_match_whole_values_only() -> None:
    assert problems_of("TagResourceRequest", {"resourceArn": SNAPSHOT_ARN, "tags": {"key": "v"}}) == []
    for key in ("key\n", "aws:key", "key@"):
        found = problems_of("TagResourceRequest", {"resourceArn": SNAPSHOT_ARN, "tags": {key: "v"}})
        assert [name for name, _ in found] == ["tags"], key


def test_every_model_pattern_is_anchored_so_fullmatch_keeps_its_meaning() -> None:
    # Smithy patterns are ECMAScript regexes, searched, not implicitly anchored: fullmatch means the same only
    # for a pattern that is anchored at both ends. A model update with another kind of pattern fails here.
    model = service_model.service_model()
    patterns = [model.shape_for(name).metadata.get("pattern") for name in model.shape_names]
    found = [pattern for pattern in patterns if pattern]
    assert found
    assert all(pattern.startswith("^") and pattern.endswith("$") for pattern in found), found


def test_whole_match_groups_an_alternation() -> None:
    assert service_model.whole_match("^a$|^b$", "b")
    assert not service_model.whole_match("^a$|^b$", "b\n")
    assert not service_model.whole_match("a|b", "ab")


def test_routes_match_whole_paths() -> None:
    assert routing.match("GET", "/cluster-snapshots\n") is None
