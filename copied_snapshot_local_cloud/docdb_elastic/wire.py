"""The rest-json wire format: requests into operation parameters, results and errors into HTTP answers.

Each member is read from where the operation's model puts it (URI label, query string, header or JSON body),
and errors carry `x-amzn-ErrorType` plus their modelled members, so botocore raises the modelled exception
class (`client.exceptions.ConflictException`, ...) with the message and members filled in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, OperationModel, Shape, StructureShape
from werkzeug.datastructures import Headers, MultiDict
from werkzeug.wrappers import Response

from copied_snapshot_local_cloud.docdb_elastic import errors, service_model

JSON = "application/json"


def parse_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: MultiDict[str, str],
    headers: Headers,
    body: bytes,
) -> dict[str, Any]:
    """The operation's parameters as a client passed them; members the model does not know are kept, so
    that validation names them."""
    document = _json_body(body)
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            params[name] = _scalar(member, labels[wire_name], name)
        elif location == "querystring":
            if isinstance(member, ListShape):
                values = query.getlist(wire_name)
                if values:
                    params[name] = [_scalar(member.member, value, name) for value in values]
            elif wire_name in query:
                params[name] = _scalar(member, query[wire_name], name)
        elif location == "header":
            if wire_name in headers:
                params[name] = _scalar(member, headers[wire_name], name)
        elif wire_name in document:
            params[name] = document.pop(wire_name)
    params.update(document)
    return params


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError as error:
        raise errors.validation(
            f"The request body is not valid JSON: {error}", reason="cannotParse"
        ) from error
    if not isinstance(document, dict):
        raise errors.validation("The request body must be a JSON object", reason="cannotParse")
    return document


def _scalar(shape: Shape, text: str, name: str) -> Any:
    """A URI, query or header value converted to its shape's type."""
    if shape.type_name in {"integer", "long"}:
        try:
            return int(text)
        except ValueError as error:
            raise errors.validation(
                f"Value '{text}' at '{name}' could not be parsed as an integer", reason="cannotParse"
            ) from error
    if shape.type_name == "boolean":
        if text.lower() not in {"true", "false"}:
            raise errors.validation(
                f"Value '{text}' at '{name}' could not be parsed as a boolean", reason="cannotParse"
            )
        return text.lower() == "true"
    return text


def result_response(operation: OperationModel, result: Mapping[str, Any]) -> Response:
    """A successful answer; the result is checked against the output shape first, so an emulator bug shows
    as a clear InternalServerException rather than as a response real clients would misread."""
    shape = operation.output_shape
    if shape is not None:
        found = list(service_model.problems(shape, result))
        if found:
            raise errors.internal(
                f"the local service built an invalid {operation.name} answer: "
                + "; ".join(f"{problem.name}: {problem.message}" for problem in found)
            )
    status = int(operation.http.get("responseCode", 200))
    return Response(json.dumps(result), status=status, content_type=JSON)


def error_response(error: errors.ServiceError) -> Response:
    """An error answer as the service sends it: status from the model, code in `x-amzn-ErrorType`."""
    status = service_model.error_status(error.code)
    body: dict[str, Any] = {"message": error.message}
    headers = {"x-amzn-ErrorType": error.code}
    shape = service_model.error_shape(error.code)
    members: Mapping[str, Shape] = shape.members if isinstance(shape, StructureShape) else {}
    for name, value in error.members.items():
        member = members.get(name)
        if member is not None and member.serialization.get("location") == "header":
            headers[member.serialization.get("name", name)] = str(value)
        else:
            body[name] = value
    return Response(json.dumps(body), status=status, headers=headers, content_type=JSON)


def unknown_operation(method: str, path: str) -> Response:
    """No modelled operation has this route: the answer API Gateway-fronted services give."""
    body = {"message": f"No docdb-elastic operation is routed at {method} {path}"}
    return Response(
        json.dumps(body),
        status=404,
        headers={"x-amzn-ErrorType": "UnknownOperationException"},
        content_type=JSON,
    )
