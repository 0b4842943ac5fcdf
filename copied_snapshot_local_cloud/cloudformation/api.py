"""CloudFormation's API (the query protocol) in front of the local engine: what the CDK CLI and boto3 call.

Requests are parsed and answers written with botocore's model of the `cloudformation` service (shapes,
member names, list and timestamp encodings, the `<Action>Result` wrapper), so that an answer botocore parses
is one the model allows. Stacks are scoped by account and region, as in CloudFormation.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import logging
import threading
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
import yaml  # type: ignore[import-untyped]  # PyYAML, pinned in the local extra; no type stubs installed
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.cloudformation.engine import STACK_TYPE, Engine, StackEvent
from copied_snapshot_local_cloud.cloudformation.store import StackState, StackStore

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
    """Answers CloudFormation's actions: change sets and deletes run the engine in the background, and reads
    come from the engine's stacks and events, plus what only the API knows (stacks in review, templates as
    sent, parameter values)."""

    def __init__(
        self,
        store: StackStore,
        engine: Engine,
        now: Callable[[], float],
        *,
        read_object: Callable[[Caller, str, str], bytes],
        code_dir: Path,
        busy: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
        settled: Callable[[], None] = lambda: None,
    ) -> None:
        """`read_object(caller, bucket, key)` reads an S3 object (a TemplateURL's, a function's code);
        functions' code is unpacked under `code_dir`; `busy` holds the clock while the engine works;
        `settled` is called when the last stack operation under way has ended (the cloud saves its state)."""
        self._store = store
        self._engine = engine
        self._now = now
        self._read_object = read_object
        self._code_dir = code_dir
        self._busy = busy
        self._settled = settled
        self._model = service_model()
        self._lock = threading.RLock()
        self._sent: dict[tuple[str, str, str], Sent] = {}  # (account, region, name) -> last deployed
        # Stacks the API holds and the engine does not: in review (made by a CREATE change set), and stacks
        # whose create rolled back (CloudFormation keeps them, ROLLBACK_COMPLETE, until they are deleted).
        self._held: dict[tuple[str, str, str], StackState] = {}
        self._change_sets: dict[str, ChangeSet] = {}  # by id
        self._ids: dict[str, str] = {}  # every stack id answered -> the stack's name
        self._deleted: dict[str, StackState] = {}  # by stack id
        self._protected: set[tuple[str, str, str]] = set()
        # Stacks the engine is working on, and the status they have until it stores one in progress.
        self._working: dict[tuple[str, str, str], str] = {}
        self._actions: dict[str, Callable[[Caller, dict[str, Any]], dict[str, Any]]] = {
            "DescribeStacks": self._describe_stacks,
            "DescribeStackEvents": self._describe_stack_events,
            "DescribeStackResources": self._describe_stack_resources,
            "ListStackResources": self._list_stack_resources,
            "GetTemplate": self._get_template,
            "GetTemplateSummary": self._get_template_summary,
            "ValidateTemplate": self._validate_template,
            "ListExports": self._list_exports,
            "ListImports": self._list_imports,
            "CreateChangeSet": self._create_change_set,
            "DescribeChangeSet": self._describe_change_set,
            "ExecuteChangeSet": self._execute_change_set,
            "DeleteChangeSet": self._delete_change_set,
            "CreateStack": self._create_stack,
            "UpdateStack": self._update_stack,
            "DeleteStack": self._delete_stack,
            "UpdateTerminationProtection": self._update_termination_protection,
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
            with self._lock:
                result = self._actions[action](caller, parse_params(operation.input_shape, params))
            return Answer(200, serialize(operation, result))
        except ApiError as error:
            return Answer(error.status, error_body(error))
        except Exception as error:  # a fault of the local cloud: the caller sees it as CloudFormation's own
            logging.getLogger(__name__).exception("%s failed", action)
            return Answer(500, error_body(ApiError("InternalFailure", f"{action}: {error!r}", 500)))

    # -- reading stacks --------------------------------------------------------------------------------------

    def _find(self, caller: Caller, name_or_id: str) -> StackState | None:
        """The caller's stack named (or with an id) `name_or_id`: deployed, in review, or (by id) deleted."""
        if name_or_id in self._deleted:
            deleted = self._deleted[name_or_id]
            return deleted if (deleted.account, deleted.region) == (caller.account, caller.region) else None
        name = name_or_id
        if ":stack/" in name_or_id:
            name = self._ids.get(name_or_id) or name_or_id.split(":stack/", 1)[1].split("/", 1)[0]
        key = (caller.account, caller.region, name)
        stack = self._store.load(name) or self._held.get(key)
        if stack is None or (stack.account, stack.region) != (caller.account, caller.region):
            return None
        if name_or_id not in (name, stack.stack_id) and self._ids.get(name_or_id) != name:
            return None  # an id of another stack of this name
        working = self._working.get(key)
        if working is not None and not stack.status.endswith("_IN_PROGRESS"):
            stack = copy.copy(stack)
            stack.status = working
        return stack

    def _stack(self, caller: Caller, name_or_id: str) -> StackState:
        """The stack, or the error CloudFormation answers when there is none."""
        stack = self._find(caller, name_or_id)
        if stack is None:
            raise validation_error(f"Stack with id {name_or_id} does not exist")
        return stack

    def _stacks(self, caller: Caller) -> list[StackState]:
        stored = [
            stack
            for stack in self._store.all()
            if (stack.account, stack.region) == (caller.account, caller.region)
        ]
        names = {stack.stack_name for stack in stored}
        review = [
            stack
            for (account, region, name), stack in self._held.items()
            if (account, region) == (caller.account, caller.region) and name not in names
        ]
        return stored + review

    def _events(self, stack: StackState) -> list[StackEvent]:
        """The stack's events since it was last created (an earlier stack of its name had its own)."""
        events = [event for event in list(self._engine.events) if event.stack == stack.stack_name]
        starts = [
            index
            for index, event in enumerate(events)
            if event.logical_id == stack.stack_name
            and event.resource_type == STACK_TYPE
            and event.status in ("CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS")
        ]
        return events[starts[-1] :] if starts else events

    def _describe_stacks(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("StackName")
        stacks = [self._stack(caller, name)] if name else self._stacks(caller)
        return {"Stacks": [self._stack_description(caller, stack) for stack in stacks]}

    def _stack_description(self, caller: Caller, stack: StackState) -> dict[str, Any]:
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
        where = (stack.account, stack.region, stack.stack_name)
        sent = self._sent.get(where)
        description: dict[str, Any] = {
            "StackId": stack.stack_id,
            "StackName": stack.stack_name,
            "CreationTime": stack_events[0].timestamp if stack_events else self._now(),
            "StackStatus": stack.status,
            "Outputs": outputs,
            "Parameters": [
                {"ParameterKey": name, "ParameterValue": value}
                for name, value in (sent.parameters if sent else {}).items()
            ],
            "Capabilities": list(sent.capabilities) if sent else [],
            "Tags": [],
            "EnableTerminationProtection": where in self._protected,
        }
        if stack_events and stack_events[-1].reason:
            description["StackStatusReason"] = stack_events[-1].reason
        if len(stack_events) > 1:
            description["LastUpdatedTime"] = stack_events[-1].timestamp
        if stack.status == "DELETE_COMPLETE":
            description["DeletionTime"] = stack_events[-1].timestamp if stack_events else self._now()
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
        if "ChangeSetName" in request:
            template = self._change_set(caller, request).template
        else:
            stack = self._stack(caller, request.get("StackName", ""))
            sent = self._sent.get((stack.account, stack.region, stack.stack_name))
            template = sent.template if sent else stack.template
        return {"TemplateBody": json.dumps(template), "StagesAvailable": ["Original", "Processed"]}

    def _list_exports(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "Exports": [
                {"ExportingStackId": stack.stack_id, "Name": name, "Value": _text(value)}
                for stack in self._stacks(caller)
                for name, value in sorted(stack.exports.items())
            ]
        }

    def _list_imports(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("ExportName", "")
        importers = [stack.stack_name for stack in self._stacks(caller) if name in stack.imports]
        if not any(name in stack.exports for stack in self._stacks(caller)):
            raise validation_error(f"Export '{name}' does not exist.")
        return {"Imports": importers}

    # -- templates -------------------------------------------------------------------------------------------

    def _template(self, caller: Caller, request: Mapping[str, Any]) -> dict[str, Any]:
        """The template a request sends: its body (JSON or YAML), or the S3 object its TemplateURL names."""
        if "TemplateBody" in request:
            return parse_template(request["TemplateBody"])
        if "TemplateURL" in request:
            bucket, key = s3_location(request["TemplateURL"])
            try:
                body = self._read_object(caller, bucket, key)
            except Exception as error:
                raise validation_error(f"TemplateURL must reference a valid S3 object: {error}") from error
            return parse_template(body.decode())
        raise validation_error("Either Template URL or Template Body must be specified.")

    def _get_template_summary(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        if "StackName" in request:
            stack = self._stack(caller, request["StackName"])
            sent = self._sent.get((stack.account, stack.region, stack.stack_name))
            template = sent.template if sent else stack.template
        else:
            template = self._template(caller, request)
        return {
            "Parameters": template_parameters(template),
            "Description": template.get("Description"),
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"] if _has_iam(template) else [],
            "ResourceTypes": sorted({str(r.get("Type")) for r in template.get("Resources", {}).values()}),
            "Version": template.get("AWSTemplateFormatVersion", "2010-09-09"),
            "Metadata": json.dumps(template["Metadata"]) if "Metadata" in template else None,
        }

    def _validate_template(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        template = self._template(caller, request)
        return {
            "Parameters": [
                {key: value for key, value in parameter.items() if key != "ParameterType"}
                for parameter in template_parameters(template)
            ],
            "Description": template.get("Description"),
            "Capabilities": ["CAPABILITY_IAM"] if _has_iam(template) else [],
        }

    # -- change sets -----------------------------------------------------------------------------------------

    def _create_change_set(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        change_set = self._new_change_set(caller, request, request.get("ChangeSetType", "UPDATE"))
        return {"Id": change_set.id, "StackId": change_set.stack_id}

    def _new_change_set(
        self, caller: Caller, request: Mapping[str, Any], kind: str, *, direct: bool = False
    ) -> ChangeSet:
        """A change set of `kind` from a CreateChangeSet request, or (`direct`) from a CreateStack or
        UpdateStack request, whose new stack starts in CREATE_IN_PROGRESS without a review."""
        name = request["StackName"]
        key = (caller.account, caller.region, name)
        stack = self._find(caller, name)
        live = stack is not None and stack.status not in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")
        if kind == "CREATE" and live:
            raise ApiError("AlreadyExistsException", f"Stack [{name}] already exists")
        if kind == "UPDATE" and not live:
            raise validation_error(f"Stack [{name}] does not exist")
        if kind not in ("CREATE", "UPDATE"):
            raise validation_error(f"the local cloud does not implement ChangeSetType {kind}")
        previous = self._sent.get(key)
        if request.get("UsePreviousTemplate"):
            if previous is None:
                raise validation_error("UsePreviousTemplate needs a deployed stack")
            template = previous.template
        else:
            template = self._template(caller, request)
        parameters = parameter_values(
            template, request.get("Parameters", []), previous.parameters if previous else {}
        )
        if stack is None or stack.status == "DELETE_COMPLETE":
            stack = StackState(
                stack_name=name,
                stack_id=f"arn:aws:cloudformation:{caller.region}:{caller.account}:stack/{name}/{uuid.uuid4()}",
                account=caller.account,
                region=caller.region,
                status="REVIEW_IN_PROGRESS",
                template={},
            )
            self._held[key] = stack
            self._ids[stack.stack_id] = name
            if not direct:
                self._engine_event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        change_set = ChangeSet(
            id=f"arn:aws:cloudformation:{caller.region}:{caller.account}:changeSet/"
            f"{request['ChangeSetName']}/{uuid.uuid4()}",
            name=request["ChangeSetName"],
            stack_name=name,
            stack_id=stack.stack_id,
            kind=kind,
            template=template,
            parameters=parameters,
            capabilities=tuple(request.get("Capabilities", [])),
            created=self._now(),
            changes=resource_changes(previous.template if previous and kind == "UPDATE" else {}, template),
            description=request.get("Description"),
        )
        if (
            kind == "UPDATE"
            and previous is not None
            and (previous.template, previous.parameters)
            == (
                template,
                parameters,
            )
        ):
            change_set.status = "FAILED"
            change_set.execution = "UNAVAILABLE"
            change_set.reason = (
                "The submitted information didn't contain changes. Submit different information to create a "
                "change set."
            )
        self._change_sets[change_set.id] = change_set
        return change_set

    # -- CreateStack and UpdateStack (the CLI's `--method=direct`) ------------------------------------------

    def _create_stack(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        return self._direct(caller, request, "CREATE")

    def _update_stack(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        return self._direct(caller, request, "UPDATE")

    def _direct(self, caller: Caller, request: dict[str, Any], kind: str) -> dict[str, Any]:
        """What CreateStack and UpdateStack do: the change set the engine executes, made and run at once and
        never listed; an update without changes is the ValidationError the CLI looks for."""
        unnamed = {**request, "ChangeSetName": f"direct-{uuid.uuid4().hex}"}
        change_set = self._new_change_set(caller, unnamed, kind, direct=True)
        if change_set.status == "FAILED":
            del self._change_sets[change_set.id]
            raise validation_error("No updates are to be performed.")
        self._execute_change_set(caller, {"ChangeSetName": change_set.id})
        return {"StackId": change_set.stack_id}

    def _change_set(self, caller: Caller, request: Mapping[str, Any]) -> ChangeSet:
        wanted = request.get("ChangeSetName", "")
        stack_name = self._ids.get(request.get("StackName", ""), request.get("StackName", ""))
        for change_set in self._change_sets.values():
            if (
                wanted in (change_set.id, change_set.name)
                and change_set.stack_id.split(":")[3:5] == [caller.region, caller.account]
                and (not stack_name or stack_name in (change_set.stack_name, change_set.stack_id))
            ):
                return change_set
        raise ApiError("ChangeSetNotFound", f"ChangeSet [{wanted}] does not exist", 404)

    def _describe_change_set(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(caller, request)
        return {
            "ChangeSetName": change_set.name,
            "ChangeSetId": change_set.id,
            "StackId": change_set.stack_id,
            "StackName": change_set.stack_name,
            "Description": change_set.description,
            "Parameters": [
                {"ParameterKey": name, "ParameterValue": value}
                for name, value in change_set.parameters.items()
            ],
            "CreationTime": change_set.created,
            "ExecutionStatus": change_set.execution,
            "Status": change_set.status,
            "StatusReason": change_set.reason or None,
            "Capabilities": list(change_set.capabilities),
            "Changes": change_set.changes,
        }

    def _delete_change_set(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        try:
            change_set = self._change_set(caller, request)
        except ApiError:
            if ":changeSet/" in request.get("ChangeSetName", ""):
                raise
            return {}  # deleting a change set named but never made succeeds (assumed, as the CLI relies on)
        if change_set.execution == "EXECUTE_IN_PROGRESS":
            raise ApiError("InvalidChangeSetStatus", f"ChangeSet [{change_set.id}] is being executed")
        del self._change_sets[change_set.id]
        return {}

    def _execute_change_set(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(caller, request)
        if change_set.execution != "AVAILABLE":
            raise ApiError(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.id}] cannot be executed in its current execution status of "
                f"[{change_set.execution}]",
            )
        key = (caller.account, caller.region, change_set.stack_name)
        for other in [cs for cs in self._change_sets.values() if cs.stack_name == change_set.stack_name]:
            if other is not change_set:
                other.execution = "OBSOLETE"
        change_set.execution = "EXECUTE_IN_PROGRESS"
        artifact = Stack(
            artifact_id=change_set.stack_name,
            stack_name=change_set.stack_name,
            template=deployable(change_set.template, change_set.parameters),
            account=caller.account,
            region=caller.region,
            dependencies=(),
            assets=self._function_code(caller, change_set.template),
        )
        review = self._held.get(key)
        if review is not None:
            review.status = "CREATE_IN_PROGRESS"  # until the engine has stored the stack
        self._sent[key] = Sent(change_set.template, change_set.parameters, change_set.capabilities)
        self._working[key] = "CREATE_IN_PROGRESS" if change_set.kind == "CREATE" else "UPDATE_IN_PROGRESS"

        def run() -> None:
            try:
                with self._busy():
                    deployed = self._engine.deploy(artifact, stack_id=change_set.stack_id)
                self._ids[deployed.stack_id] = deployed.stack_name
                change_set.execution = "EXECUTE_COMPLETE"
                with self._lock:
                    self._held.pop(key, None)
                    self._working.pop(key, None)
            except Exception:
                logging.getLogger(__name__).info("change set %s failed", change_set.id, exc_info=True)
                change_set.execution = "EXECUTE_FAILED"
                with self._lock:
                    self._working.pop(key, None)
                    self._hold_failed(key)
            self._after_operation()

        threading.Thread(target=run, name=f"execute {change_set.name}", daemon=True).start()
        return {}

    def _after_operation(self) -> None:
        """A safe point once no other stack operation is under way: the cloud saves its state there."""
        with self._lock:
            if self._working:
                return
        try:
            self._settled()
        except Exception:  # saved again at the next safe point, and when the cloud stops
            logging.getLogger(__name__).warning("saving the services' state failed", exc_info=True)

    def _hold_failed(self, key: tuple[str, str, str]) -> None:
        """After a failed execution: a stack the engine removed (its create rolled back) is held in the
        status its last event gave it; a stack the engine kept is the engine's."""
        held = self._held.pop(key, None)
        if held is None or self._store.load(held.stack_name) is not None:
            return
        last = [
            e for e in self._events(held) if e.resource_type == STACK_TYPE and e.logical_id == held.stack_name
        ]
        held.status = last[-1].status if last else "ROLLBACK_COMPLETE"
        self._held[key] = held

    def _function_code(self, caller: Caller, template: Mapping[str, Any]) -> dict[str, Path]:
        """Each function's code as the CLI uploaded it to S3 (a zip), unpacked: object key -> directory."""
        assets: dict[str, Path] = {}
        for resource in template.get("Resources", {}).values():
            code = resource.get("Properties", {}).get("Code", {}) if isinstance(resource, dict) else {}
            if resource.get("Type") != "AWS::Lambda::Function" or not isinstance(code.get("S3Key"), str):
                continue
            bucket = substitute_pseudo(code.get("S3Bucket"), caller)
            if bucket is None:
                continue
            directory = self._code_dir / bucket / code["S3Key"]
            if not directory.is_dir():
                archive = self._read_object(caller, bucket, code["S3Key"])
                partial = directory.with_name(directory.name + f".{uuid.uuid4().hex}")
                with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
                    unpacked.extractall(partial)
                partial.replace(directory)
            assets[code["S3Key"]] = directory
        return assets

    def _delete_stack(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._find(caller, request.get("StackName", ""))
        if stack is None or stack.status == "DELETE_COMPLETE":
            return {}  # deleting a stack that is not there succeeds (CloudFormation API Reference)
        key = (stack.account, stack.region, stack.stack_name)
        if key in self._protected:
            raise validation_error(
                f"Stack [{stack.stack_name}] cannot be deleted while TerminationProtection is enabled"
            )
        if self._working.get(key) == "DELETE_IN_PROGRESS":
            return {}  # already being deleted
        if key in self._held:
            self._finish_delete(stack, key)
            return {}

        def run() -> None:
            try:
                with self._busy():
                    self._engine.destroy(stack.stack_name)
            except Exception:
                logging.getLogger(__name__).info("delete of %s failed", stack.stack_name, exc_info=True)
                with self._lock:
                    self._working.pop(key, None)
                    self._held.pop(key, None)
            else:
                with self._lock:
                    self._working.pop(key, None)
                    self._finish_delete(stack, key)
            self._after_operation()

        self._working[key] = "DELETE_IN_PROGRESS"
        # Held from the moment the engine removes the stack until the delete is finished here.
        self._held[key] = copy.copy(stack)
        self._held[key].status = "DELETE_IN_PROGRESS"
        threading.Thread(target=run, name=f"delete {stack.stack_name}", daemon=True).start()
        return {}

    def _finish_delete(self, stack: StackState, key: tuple[str, str, str]) -> None:
        """What is left of a deleted stack: its ids answer DELETE_COMPLETE; its name is free again."""
        stack.status = "DELETE_COMPLETE"
        for stack_id in [i for i, name in self._ids.items() if name == stack.stack_name]:
            del self._ids[stack_id]
            self._deleted[stack_id] = stack
        self._deleted[stack.stack_id] = stack
        self._held.pop(key, None)
        self._sent.pop(key, None)
        for change_set_id in [i for i, cs in self._change_sets.items() if cs.stack_name == stack.stack_name]:
            del self._change_sets[change_set_id]

    def _update_termination_protection(self, caller: Caller, request: dict[str, Any]) -> dict[str, Any]:
        stack = self._stack(caller, request.get("StackName", ""))
        key = (stack.account, stack.region, stack.stack_name)
        if request.get("EnableTerminationProtection"):
            self._protected.add(key)
        else:
            self._protected.discard(key)
        return {"StackId": stack.stack_id}

    def _engine_event(self, stack: StackState, status: str, reason: str) -> None:
        """A stack event the API itself makes (a stack put in review), among the engine's."""
        self._engine.events.append(
            StackEvent(self._now(), stack.stack_name, stack.stack_name, STACK_TYPE, status, reason)
        )


@dataclass(frozen=True)
class Sent:
    """What was last sent for a stack: the template as sent, the parameters' values, the capabilities."""

    template: dict[str, Any]
    parameters: dict[str, str]
    capabilities: tuple[str, ...] = ()


@dataclass
class ChangeSet:
    id: str
    name: str
    stack_name: str
    stack_id: str
    kind: str  # CREATE or UPDATE
    template: dict[str, Any]
    parameters: dict[str, str]
    capabilities: tuple[str, ...]
    created: float
    changes: list[dict[str, Any]]
    description: str | None = None
    status: str = "CREATE_COMPLETE"
    execution: str = "AVAILABLE"
    reason: str = ""


# -- templates and parameters (pure) ------------------------------------------------------------------------


def parse_template(body: str) -> dict[str, Any]:
    """A template body: JSON, or YAML in the long form (`Fn::Sub:`), as the CDK CLI sends its bootstrap
    template; short-form tags (`!Sub`) are refused as unknown."""
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        try:
            parsed = yaml.safe_load(body)
        except yaml.YAMLError as error:
            raise validation_error(f"Template format error: {error}") from error
    if not isinstance(parsed, dict):
        raise validation_error("Template format error: the template is not a JSON or YAML object")
    return parsed


def s3_location(url: str) -> tuple[str, str]:
    """The bucket and key a TemplateURL names, in the path style (`https://s3.<region>.amazonaws.com/b/k`,
    any host, as the local endpoint's) or the virtual-hosted style (`https://b.s3.<region>.amazonaws.com/k`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = unquote(parts.path).lstrip("/")
    if ".s3." in host or ".s3-" in host:
        return host.split(".s3", 1)[0], path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise validation_error(f"TemplateURL must be a supported URL: {url}")
    return bucket, key


def substitute_pseudo(value: Any, caller: Caller) -> str | None:
    """A bucket name written as text or as `Fn::Sub` of the account, region and partition only (as CDK's
    synthesizer writes the staging bucket's); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"]
        for name, known in (
            ("AWS::AccountId", caller.account),
            ("AWS::Region", caller.region),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ):
            text = text.replace("${" + name + "}", known)
        return None if "${" in text else text
    return None


def template_parameters(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template's parameters as GetTemplateSummary declares them."""
    return [
        {
            "ParameterKey": name,
            "DefaultValue": None if "Default" not in declared else _text(declared["Default"]),
            "ParameterType": declared.get("Type", "String"),
            "NoEcho": str(declared.get("NoEcho", "false")).lower() == "true",
            "Description": declared.get("Description"),
        }
        for name, declared in template.get("Parameters", {}).items()
    ]


def parameter_values(
    template: Mapping[str, Any], given: list[dict[str, Any]], previous: Mapping[str, str]
) -> dict[str, str]:
    """Each declared parameter's value: given, the previous one (`UsePreviousValue`), or its default."""
    sent = {parameter["ParameterKey"]: parameter for parameter in given}
    declared = template.get("Parameters", {})
    unknown = sorted(set(sent) - set(declared))
    if unknown:
        raise validation_error(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values, missing = {}, []
    for name, declaration in declared.items():
        parameter = sent.get(name, {})
        if parameter.get("UsePreviousValue") and name in previous:
            values[name] = previous[name]
        elif "ParameterValue" in parameter:
            values[name] = str(parameter["ParameterValue"])
        elif "Default" in declaration:
            values[name] = _text(declaration["Default"])
        else:
            missing.append(name)
    if missing:
        raise validation_error(f"Parameters: [{', '.join(missing)}] must have values")
    return values


def deployable(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The template the engine deploys: each parameter's value as its default (the engine deploys with
    defaults), list types split at commas as CloudFormation's `Ref` answers them."""
    result = copy.deepcopy(dict(template))
    for name, declaration in result.get("Parameters", {}).items():
        kind = str(declaration.get("Type", "String"))
        value = values[name]
        listed = kind == "CommaDelimitedList" or (kind.startswith("List<") and "SSM" not in kind)
        declaration["Default"] = value.split(",") if listed else value
    return result


def resource_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The change set's resource changes: added, modified (a different declaration) and removed resources."""
    before, after = old.get("Resources", {}), new.get("Resources", {})
    changes = []
    for logical_id in sorted(set(before) | set(after)):
        if logical_id in before and before[logical_id] == after.get(logical_id):
            continue
        action = "Add" if logical_id not in before else "Remove" if logical_id not in after else "Modify"
        resource = after.get(logical_id) or before[logical_id]
        change: dict[str, Any] = {
            "Action": action,
            "LogicalResourceId": logical_id,
            "ResourceType": resource.get("Type"),
        }
        if action == "Modify":
            change["Replacement"] = "Conditional"
        changes.append({"Type": "Resource", "ResourceChange": change})
    return changes


def _has_iam(template: Mapping[str, Any]) -> bool:
    return any(
        str(resource.get("Type", "")).startswith("AWS::IAM::")
        for resource in template.get("Resources", {}).values()
    )


def _text(value: Any) -> str:
    """An output's value as CloudFormation shows it: lists joined with commas, everything else as text."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
