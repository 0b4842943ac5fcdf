"""CloudFormation's API (the query protocol) in front of the local engine: what the CDK CLI and boto3 call.

Requests are parsed and answers written with botocore's model of the `cloudformation` service (shapes,
member names, list and timestamp encodings, the `<Action>Result` wrapper), so that an answer botocore parses
is one the model allows. Stacks are scoped by account and region, as in CloudFormation.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from local_cloud.cloudformation.engine import STACK_TYPE, Engine, StackEvent
from local_cloud.cloudformation.store import StackState, StackStore

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def service_model() -> ServiceModel:
    """botocore's model of CloudFormation, the one the installed boto3 speaks."""
    loader = botocore.session.get_session().get_component("data_loader")
    return ServiceModel(loader.load_service_model("cloudformation", "service-2"), "cloudformation")


class ApiError(Exception):
    """An error answer: `code` as CloudFormation names it (botocore's `Error.Code`), and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def validation_error(message: str) -> ApiError:
    return ApiError("ValidationError", message)


@dataclass(frozen=True)
class Caller:
    """Who asks and where: the account of the request's access key, and its credential scope's region."""

    account: str
    region: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/xml"


# -- the query protocol, driven by the model ----------------------------------------------------------------


def parse_params(shape: StructureShape | None, params: Mapping[str, str]) -> dict[str, Any]:
    """The request's flat query parameters (`Tags.member.1.Key=...`) as the input shape's nested value."""
    if shape is None:
        return {}
    return dict(_parse_structure(shape, params, ""))


def _parse(shape: Shape, params: Mapping[str, str], prefix: str) -> Any:
    if isinstance(shape, StructureShape):
        return _parse_structure(shape, params, prefix + ".")
    if isinstance(shape, ListShape):
        items, index = [], 1
        while any(key.startswith(f"{prefix}.member.{index}") for key in params):
            items.append(_parse(shape.member, params, f"{prefix}.member.{index}"))
            index += 1
        return items
    if isinstance(shape, MapShape):
        entries, index = {}, 1
        while f"{prefix}.entry.{index}.key" in params:
            key = params[f"{prefix}.entry.{index}.key"]
            entries[key] = _parse(shape.value, params, f"{prefix}.entry.{index}.value")
            index += 1
        return entries
    text = params[prefix]
    if shape.type_name == "boolean":
        return text == "true"
    if shape.type_name in ("integer", "long"):
        return int(text)
    return text


def _parse_structure(shape: StructureShape, params: Mapping[str, str], prefix: str) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + name
        if params.get(key) == "" and isinstance(member, ListShape):
            value[name] = []  # an empty list is sent as its bare name with an empty value
        elif key in params or any(other.startswith(key + ".") for other in params):
            value[name] = _parse(member, params, key)
    return value


def serialize(operation: OperationModel, result: Mapping[str, Any]) -> bytes:
    """The XML answer of `operation` with `result` (a value of its output shape)."""
    root = ET.Element(f"{operation.name}Response", xmlns=NAMESPACE)
    output = operation.output_shape
    if output is not None:
        wrapper = output.serialization.get("resultWrapper", f"{operation.name}Result")
        _fill(ET.SubElement(root, wrapper), output, result)
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = str(uuid.uuid4())
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def error_body(error: ApiError) -> bytes:
    root = ET.Element("ErrorResponse", xmlns=NAMESPACE)
    element = ET.SubElement(root, "Error")
    ET.SubElement(element, "Type").text = "Sender" if error.status < 500 else "Receiver"
    ET.SubElement(element, "Code").text = error.code
    ET.SubElement(element, "Message").text = str(error)
    ET.SubElement(root, "RequestId").text = str(uuid.uuid4())
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _fill(element: ET.Element, shape: Shape, value: Any) -> None:
    if isinstance(shape, StructureShape):
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ValueError(f"{shape.name} has no member {', '.join(sorted(unknown))}")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                tag = member.serialization.get("name", name)
                _fill(ET.SubElement(element, tag), member, value[name])
    elif isinstance(shape, ListShape):
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            _fill(ET.SubElement(element, tag), shape.member, item)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            entry = ET.SubElement(element, "entry")
            ET.SubElement(entry, "key").text = str(key)
            _fill(ET.SubElement(entry, "value"), shape.value, item)
    elif shape.type_name == "timestamp":
        moment = datetime.datetime.fromtimestamp(float(value), datetime.UTC)
        element.text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    elif shape.type_name == "boolean":
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


# -- the API ------------------------------------------------------------------------------------------------


class CloudFormationApi:
    """Answers CloudFormation's actions from the engine's stacks and events."""

    def __init__(self, store: StackStore, engine: Engine, now: Callable[[], float]) -> None:
        self._store = store
        self._engine = engine
        self._now = now
        self._model = service_model()
        self._actions: dict[str, Callable[[Caller, dict[str, Any]], dict[str, Any]]] = {
            "DescribeStacks": self._describe_stacks,
            "DescribeStackEvents": self._describe_stack_events,
            "DescribeStackResources": self._describe_stack_resources,
            "ListStackResources": self._list_stack_resources,
            "GetTemplate": self._get_template,
            "ListExports": self._list_exports,
        }

    def handle(self, caller: Caller, body: bytes) -> Answer:
        """Answers one request, its form-encoded body as sent."""
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        action = params.pop("Action", "")
        params.pop("Version", None)
        try:
            if action not in self._actions:
                raise ApiError("InvalidAction", f"the local cloud does not implement {action!r}")
            operation = self._model.operation_model(action)
            result = self._actions[action](caller, parse_params(operation.input_shape, params))
            return Answer(200, serialize(operation, result))
        except ApiError as error:
            return Answer(error.status, error_body(error))
        except Exception as error:  # a fault of the local cloud: the caller sees it as CloudFormation's own
            logging.getLogger(__name__).exception("%s failed", action)
            return Answer(500, error_body(ApiError("InternalFailure", f"{action}: {error!r}", 500)))

    # -- reading stacks --------------------------------------------------------------------------------------

    def _stack(self, caller: Caller, name_or_id: str) -> StackState:
        """The caller's live stack named (or with the id) `name_or_id`; the error CloudFormation answers."""
        name = name_or_id.split(":stack/", 1)[1].split("/", 1)[0] if ":stack/" in name_or_id else name_or_id
        stack = self._store.load(name)
        if (
            stack is None
            or (stack.account, stack.region) != (caller.account, caller.region)
            or name_or_id not in (name, stack.stack_id)
        ):
            raise validation_error(f"Stack with id {name_or_id} does not exist")
        return stack

    def _stacks(self, caller: Caller) -> list[StackState]:
        return [
            stack
            for stack in self._store.all()
            if (stack.account, stack.region) == (caller.account, caller.region)
        ]

    def _events(self, stack: StackState) -> list[StackEvent]:
        """The stack's events since it was last created (an earlier stack of its name had its own)."""
        events = [event for event in list(self._engine.events) if event.stack == stack.stack_name]
        starts = [
            index
            for index, event in enumerate(events)
            if event.logical_id == stack.stack_name
            and event.resource_type == STACK_TYPE
            and event.status == "CREATE_IN_PROGRESS"
        ]
        return events[starts[-1] :] if starts else events

    def _describe_stacks(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("StackName")
        stacks = [self._stack(caller, name)] if name else self._stacks(caller)
        return {"Stacks": [self._stack_description(stack) for stack in stacks]}

    def _stack_description(self, stack: StackState) -> dict[str, Any]:
        events = self._events(stack)
        stack_events = [event for event in events if event.resource_type == STACK_TYPE]
        exported = {json.dumps(value, sort_keys=True): name for name, value in stack.exports.items()}
        outputs = []
        for key, value in stack.outputs.items():
            declared = stack.template.get("Outputs", {}).get(key, {})
            output: dict[str, Any] = {"OutputKey": key, "OutputValue": _text(value)}
            if "Description" in declared:
                output["Description"] = declared["Description"]
            if "Export" in declared:
                output["ExportName"] = exported.get(json.dumps(value, sort_keys=True))
            outputs.append(output)
        description: dict[str, Any] = {
            "StackId": stack.stack_id,
            "StackName": stack.stack_name,
            "CreationTime": stack_events[0].timestamp if stack_events else self._now(),
            "StackStatus": stack.status,
            "Outputs": outputs,
            "Tags": [],
            "EnableTerminationProtection": False,
        }
        if stack_events and stack_events[-1].reason:
            description["StackStatusReason"] = stack_events[-1].reason
        if len(stack_events) > 1:
            description["LastUpdatedTime"] = stack_events[-1].timestamp
        return description

    def _describe_stack_events(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(caller, request.get("StackName", ""))
        events = self._events(stack)
        described = []
        for index, event in enumerate(events):
            resource = stack.resources.get(event.logical_id)
            if event.resource_type == STACK_TYPE:
                physical_id = stack.stack_id
            else:
                physical_id = resource.physical_id if resource else ""
            described.append(
                {
                    "StackId": stack.stack_id,
                    "EventId": f"{stack.stack_id.rsplit('/', 1)[-1]}-{index}",
                    "StackName": stack.stack_name,
                    "LogicalResourceId": event.logical_id,
                    "PhysicalResourceId": physical_id,
                    "ResourceType": event.resource_type,
                    "Timestamp": event.timestamp,
                    "ResourceStatus": event.status,
                    "ResourceStatusReason": event.reason or None,
                }
            )
        return {"StackEvents": described[::-1]}  # newest first, as CloudFormation answers

    def _resource_rows(self, stack: StackState) -> list[dict[str, Any]]:
        """Each resource of the stack with its status and the time of its last event."""
        last: dict[str, StackEvent] = {}
        for event in self._events(stack):
            last[event.logical_id] = event
        rows = []
        for logical_id, resource in stack.resources.items():
            latest = last.get(logical_id)
            rows.append(
                {
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": resource.physical_id,
                    "ResourceType": resource.type,
                    "Timestamp": latest.timestamp if latest else self._now(),
                    "ResourceStatus": latest.status if latest else "CREATE_COMPLETE",
                }
            )
        return rows

    def _describe_stack_resources(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(caller, request.get("StackName", ""))
        rows = self._resource_rows(stack)
        if "LogicalResourceId" in request:
            rows = [row for row in rows if row["LogicalResourceId"] == request["LogicalResourceId"]]
        return {
            "StackResources": [
                {**row, "StackName": stack.stack_name, "StackId": stack.stack_id} for row in rows
            ]
        }

    def _list_stack_resources(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(caller, request.get("StackName", ""))
        return {
            "StackResourceSummaries": [
                {
                    **{key: value for key, value in row.items() if key != "Timestamp"},
                    "LastUpdatedTimestamp": row["Timestamp"],
                }
                for row in self._resource_rows(stack)
            ]
        }

    def _get_template(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(caller, request.get("StackName", ""))
        return {"TemplateBody": json.dumps(stack.template), "StagesAvailable": ["Original", "Processed"]}

    def _list_exports(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "Exports": [
                {"ExportingStackId": stack.stack_id, "Name": name, "Value": _text(value)}
                for stack in self._stacks(caller)
                for name, value in sorted(stack.exports.items())
            ]
        }


def _text(value: Any) -> str:
    """An output's value as CloudFormation shows it: lists joined with commas, everything else as text."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
