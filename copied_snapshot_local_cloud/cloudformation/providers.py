"""What creating, updating and deleting each supported resource type does in the local cloud.

KMS keys, SSM parameters, IAM roles and Lambda functions and permissions are made in moto (server mode), so
their ids, ARNs and policies are the ones AWS clients see; each Lambda function is also registered with the
local Lambda runner, which runs it from its bundled asset. Log groups, IAM policies and CDK metadata have no
effect here and are recorded. Custom resources are in `custom.py`.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import threading
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from copied_snapshot_local_cloud.clock import Clock
from copied_snapshot_local_cloud.cloudformation.errors import ResourceFailed as ResourceFailed  # noqa: PLC0414 - re-exported
from copied_snapshot_local_cloud.cloudformation.store import StackState
from copied_snapshot_local_cloud.lambda_runtime.runner import (
    Function,
    LambdaRunner,
    UnsupportedRuntime,
    runnable,
)


class Cloud(Protocol):
    runner: LambdaRunner
    clock: Clock

    def client(self, service: str, region: str, account: str | None = None) -> Any: ...

    def function_environment(
        self, region: str, variables: Mapping[str, str], account: str | None = None
    ) -> dict[str, str]: ...


class Cancellation(threading.Event):
    """An event that also calls back whoever waits on something else (a custom resource waiting for its
    answer) when it is set, so that no waiter has to look at it again and again."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    def set(self) -> None:
        with self._callbacks_lock:
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def when_set(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once this is set (at once when it already is)."""
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return
        callback()


@dataclass
class Change:
    cloud: Cloud
    stack: StackState
    logical_id: str
    type: str
    properties: dict[str, Any]
    assets: Mapping[str, Path] = field(default_factory=dict)
    physical_id: str | None = None
    old_properties: dict[str, Any] | None = None
    # Set when CloudFormation cancels the operation (a sibling failed while this Create was running).
    cancelled: Cancellation = field(default_factory=Cancellation)

    def client(self, service: str) -> Any:
        return self.cloud.client(service, self.stack.region, self.stack.account)

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.stack.region if region else ""
        return f"arn:aws:{service}:{where}:{self.stack.account}:{resource}"


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    def create(self, change: Change) -> Outcome: ...

    def update(self, change: Change) -> Outcome: ...

    def delete(self, change: Change) -> None: ...


def generated_name(change: Change, limit: int) -> str:
    """A name like CloudFormation gives unnamed resources: `<stack>-<logical id>-<random>`."""
    suffix = secrets.token_hex(6).upper()
    room = limit - len(suffix) - 2
    stack_part = change.stack.stack_name[: room // 2]
    logical_part = change.logical_id[: room - len(stack_part)]
    return f"{stack_part}-{logical_part}-{suffix}"


class Recorded:
    """Types with no effect in the local cloud: the resource is kept in the stack with the ids AWS gives."""

    def __init__(self, attributes: Callable[[Change, str], dict[str, Any]] | None = None) -> None:
        self._attributes = attributes

    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("LogGroupName") or generated_name(change, 64))
        return Outcome(name, self._attributes(change, name) if self._attributes else {})

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        attributes = self._attributes(change, change.physical_id) if self._attributes else {}
        return Outcome(change.physical_id, attributes)

    def delete(self, change: Change) -> None:
        return


def _log_group_attributes(change: Change, name: str) -> dict[str, Any]:
    return {"Arn": change.arn("logs", f"log-group:{name}:*")}


class IamRole:
    """Roles are made in moto's IAM, since moto's Lambda checks that a function's role exists."""

    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("RoleName") or generated_name(change, 64))
        role = change.client("iam").create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(change.properties.get("AssumeRolePolicyDocument", {})),
            Path=change.properties.get("Path", "/"),
        )["Role"]
        return Outcome(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        iam = change.client("iam")
        iam.update_assume_role_policy(
            RoleName=change.physical_id,
            PolicyDocument=json.dumps(change.properties.get("AssumeRolePolicyDocument", {})),
        )
        role = iam.get_role(RoleName=change.physical_id)["Role"]
        return Outcome(change.physical_id, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def delete(self, change: Change) -> None:
        iam = change.client("iam")
        try:
            for name in iam.list_role_policies(RoleName=change.physical_id)["PolicyNames"]:
                iam.delete_role_policy(RoleName=change.physical_id, PolicyName=name)
            iam.delete_role(RoleName=change.physical_id)
        except iam.exceptions.NoSuchEntityException:
            return


class LambdaFunction:
    """A function made in moto (for its ARN and resource policy) and run by the local Lambda runner."""

    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("FunctionName") or generated_name(change, 64))
        code = _code_dir(change)
        function = self._function(change, name, code)
        _check_runnable(function)  # before moto has it: nothing is left behind
        change.client("lambda").create_function(
            FunctionName=name,
            Runtime=function.runtime,
            Role=change.properties["Role"],
            Handler=change.properties["Handler"],
            Code={"ZipFile": _zip(code)},
            Timeout=int(change.properties.get("Timeout", 3)),
            MemorySize=int(change.properties.get("MemorySize", 128)),
            Environment={"Variables": _variables(change)},
        )
        return self._register(change, function)

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        code = _code_dir(change)
        function = self._function(change, change.physical_id, code)
        _check_runnable(function)
        lambdas = change.client("lambda")
        lambdas.update_function_code(FunctionName=change.physical_id, ZipFile=_zip(code))
        lambdas.update_function_configuration(
            FunctionName=change.physical_id,
            Handler=change.properties["Handler"],
            Timeout=int(change.properties.get("Timeout", 3)),
            Environment={"Variables": _variables(change)},
        )
        return self._register(change, function)

    def delete(self, change: Change) -> None:
        assert change.physical_id is not None
        change.cloud.runner.unregister(change.physical_id)
        lambdas = change.client("lambda")
        try:
            lambdas.delete_function(FunctionName=change.physical_id)
        except lambdas.exceptions.ResourceNotFoundException:
            return

    def _function(self, change: Change, name: str, code: Path) -> Function:
        """The function as the local Lambda runner runs it."""
        log_group = change.properties.get("LoggingConfig", {}).get("LogGroup", "")
        return Function(
            name=name,
            arn=change.arn("lambda", f"function:{name}"),
            code_dir=code,
            handler=str(change.properties["Handler"]),
            environment=change.cloud.function_environment(
                change.stack.region, _variables(change), change.stack.account
            )
            | {
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_LOG_GROUP_NAME": log_group or f"/aws/lambda/{name}",
            },
            timeout=float(change.properties.get("Timeout", 3)),
            memory_mb=int(change.properties.get("MemorySize", 128)),
            log_group=str(log_group),
            runtime=str(change.properties.get("Runtime", "python3.12")),
        )

    def _register(self, change: Change, function: Function) -> Outcome:
        _check_runnable(function)
        change.cloud.runner.register(function)
        return Outcome(function.name, {"Arn": function.arn})


def _check_runnable(function: Function) -> None:
    """A function the local Lambda runner cannot run fails its resource at once, naming its runtime."""
    try:
        runnable(function)
    except UnsupportedRuntime as error:
        raise ResourceFailed(str(error)) from error


def _variables(change: Change) -> dict[str, str]:
    variables = change.properties.get("Environment", {}).get("Variables", {})
    return {str(key): str(value) for key, value in variables.items()}


def _code_dir(change: Change) -> Path:
    """The bundled asset a function's code points at (S3Key is the asset's object key)."""
    code = change.properties.get("Code", {})
    key = code.get("S3Key")
    if key is None:
        raise ResourceFailed(
            f"{change.logical_id}: only code from the assembly's file assets can run locally"
        )
    path = change.assets.get(str(key))
    if path is None or not path.is_dir():
        raise ResourceFailed(f"{change.logical_id}: code {key} is not a directory asset of this assembly")
    return path


def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(directory).as_posix())
    return buffer.getvalue()


class LambdaPermission:
    """A statement in the function's resource policy in moto, which the local EventBridge checks."""

    def create(self, change: Change) -> Outcome:
        statement_id = f"{change.logical_id}-{secrets.token_hex(4)}"[:100]
        arguments = {
            "FunctionName": change.properties["FunctionName"],
            "StatementId": statement_id,
            "Action": change.properties["Action"],
            "Principal": change.properties["Principal"],
        }
        for optional in ("SourceArn", "SourceAccount"):
            if optional in change.properties:
                arguments[optional] = change.properties[optional]
        change.client("lambda").add_permission(**arguments)
        return Outcome(statement_id)

    def update(self, change: Change) -> Outcome:
        self.delete(change)
        return self.create(change)

    def delete(self, change: Change) -> None:
        properties = change.old_properties or change.properties
        lambdas = change.client("lambda")
        try:
            lambdas.remove_permission(FunctionName=properties["FunctionName"], StatementId=change.physical_id)
        except lambdas.exceptions.ResourceNotFoundException:
            return


class KmsKey:
    def create(self, change: Change) -> Outcome:
        kms = change.client("kms")
        key = kms.create_key(
            Description=change.properties.get("Description", ""),
            Policy=json.dumps(change.properties.get("KeyPolicy", {})),
            KeySpec=change.properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            KeyUsage=change.properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in change.properties.get("Tags", [])],
        )["KeyMetadata"]
        if str(change.properties.get("EnableKeyRotation", "false")).lower() == "true":
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return Outcome(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        kms = change.client("kms")
        kms.update_key_description(
            KeyId=change.physical_id, Description=change.properties.get("Description", "")
        )
        kms.put_key_policy(
            KeyId=change.physical_id,
            PolicyName="default",
            Policy=json.dumps(change.properties.get("KeyPolicy", {})),
        )
        key = kms.describe_key(KeyId=change.physical_id)["KeyMetadata"]
        return Outcome(change.physical_id, {"Arn": key["Arn"], "KeyId": key["KeyId"]})

    def delete(self, change: Change) -> None:
        change.client("kms").schedule_key_deletion(KeyId=change.physical_id, PendingWindowInDays=7)


class SsmParameter:
    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("Name") or generated_name(change, 128))
        self._put(change, name, overwrite=False)
        return Outcome(name, self._attributes(change, name))

    def update(self, change: Change) -> Outcome:
        old_name = (change.old_properties or {}).get("Name")
        if change.properties.get("Name") != old_name:
            return self.create(change)  # a new name is a new parameter; the old one goes at cleanup
        assert change.physical_id is not None
        self._put(change, change.physical_id, overwrite=True)
        return Outcome(change.physical_id, self._attributes(change, change.physical_id))

    def delete(self, change: Change) -> None:
        ssm = change.client("ssm")
        try:
            ssm.delete_parameter(Name=change.physical_id)
        except ssm.exceptions.ParameterNotFound:
            return

    def _put(self, change: Change, name: str, *, overwrite: bool) -> None:
        arguments: dict[str, Any] = {
            "Name": name,
            "Value": str(change.properties["Value"]),
            "Type": change.properties.get("Type", "String"),
            "Overwrite": overwrite,
        }
        if change.properties.get("Description"):
            arguments["Description"] = change.properties["Description"]
        if change.properties.get("Tags") and not overwrite:
            arguments["Tags"] = [{"Key": k, "Value": str(v)} for k, v in change.properties["Tags"].items()]
        change.client("ssm").put_parameter(**arguments)

    def _attributes(self, change: Change, name: str) -> dict[str, Any]:
        """Read back from SSM, so that the attributes are what a reader of the parameter sees."""
        parameter = change.client("ssm").get_parameter(Name=name)["Parameter"]
        return {"Type": parameter["Type"], "Value": parameter["Value"]}


def _policy_attributes(change: Change, name: str) -> dict[str, Any]:
    return {"Id": hashlib.sha256(name.encode()).hexdigest()[:20]}


def default_providers() -> dict[str, Provider]:
    """The resource types the local cloud deploys besides custom resources, each with its provider."""
    from copied_snapshot_local_cloud.cloudformation.bootstrap_providers import bootstrap_providers  # noqa: PLC0415 - as below
    from copied_snapshot_local_cloud.cloudformation.ec2_providers import ec2_providers  # noqa: PLC0415 - it imports this module

    return {
        **ec2_providers(),
        **bootstrap_providers(),
        "AWS::CDK::Metadata": Recorded(),
        "AWS::Logs::LogGroup": Recorded(_log_group_attributes),
        "AWS::IAM::Policy": Recorded(_policy_attributes),
        "AWS::IAM::Role": IamRole(),
        "AWS::Lambda::Function": LambdaFunction(),
        "AWS::Lambda::Permission": LambdaPermission(),
        "AWS::KMS::Key": KmsKey(),
        "AWS::SSM::Parameter": SsmParameter(),
    }
