"""botocore's model of docdb-elastic, and request validation driven by it.

The emulator checks requests against the same shapes the real clients are generated from (required members,
types, lengths, ranges, patterns, enums), so a request the service would refuse is refused here too, without
a hand-kept copy of the rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    NoShapeFoundError,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)

SERVICE_NAME = "docdb-elastic"
SENSITIVE = "*** sensitive ***"


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def error_shape(code: str) -> Shape | None:
    """The modelled shape of an error code, or None for a code the model does not know."""
    try:
        return service_model().shape_for(code)
    except NoShapeFoundError:
        return None


def error_status(code: str) -> int:
    """The HTTP status the model gives an error code (500 for codes it does not know)."""
    shape = error_shape(code)
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 500)) if shape is not None else 500


@dataclass(frozen=True)
class FieldProblem:
    """One member that breaks its shape, worded like the service's validation messages."""

    name: str
    message: str
    value: Any = None


def problems(shape: Shape, value: Any, path: str = "") -> Iterator[FieldProblem]:
    """Every way `value` breaks `shape`; `path` names the member (`tags.team`, `subnetIds[0]`)."""
    if isinstance(shape, StructureShape):
        yield from _structure_problems(shape, value, path)
    elif isinstance(shape, ListShape):
        yield from _list_problems(shape, value, path)
    elif isinstance(shape, MapShape):
        yield from _map_problems(shape, value, path)
    else:
        yield from _scalar_problems(shape, value, path)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _structure_problems(shape: StructureShape, value: Any, path: str) -> Iterator[FieldProblem]:
    if not isinstance(value, Mapping):
        yield FieldProblem(path or "body", "Member must be a structure", value)
        return
    for name in shape.required_members:
        if value.get(name) is None:
            yield FieldProblem(_join(path, name), "Member must not be null")
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            yield FieldProblem(_join(path, name), "Member is not in the model of this shape", member_value)
        elif member_value is not None:
            yield from problems(member, member_value, _join(path, name))


def _list_problems(shape: ListShape, value: Any, path: str) -> Iterator[FieldProblem]:
    if not isinstance(value, list):
        yield FieldProblem(path, "Member must be a list", value)
        return
    yield from _size_problems(shape, len(value), path, "length", value)
    for index, item in enumerate(value):
        yield from problems(shape.member, item, f"{path}[{index}]")


def _map_problems(shape: MapShape, value: Any, path: str) -> Iterator[FieldProblem]:
    if not isinstance(value, Mapping):
        yield FieldProblem(path, "Member must be a map", value)
        return
    yield from _size_problems(shape, len(value), path, "length", value)
    for key, item in value.items():
        for problem in problems(shape.key, key, path):
            yield FieldProblem(path, f"Map keys must satisfy constraint: [{problem.message}]", key)
        yield from problems(shape.value, item, f"{path}.{key}")


def _scalar_problems(shape: Shape, value: Any, path: str) -> Iterator[FieldProblem]:
    shown = SENSITIVE if shape.metadata.get("sensitive") else value
    for problem in _type_problems(shape, value, path):
        yield FieldProblem(problem.name, problem.message, shown)


def _type_problems(shape: Shape, value: Any, path: str) -> Iterator[FieldProblem]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            yield FieldProblem(path, "Member must be a string")
            return
        yield from _size_problems(shape, len(value), path, "length")
        pattern = shape.metadata.get("pattern")
        if pattern and not whole_match(pattern, value):
            yield FieldProblem(path, f"Member must satisfy regular expression pattern: {pattern}")
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            yield FieldProblem(path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
    elif kind in {"integer", "long"}:
        if isinstance(value, bool) or not isinstance(value, int):
            yield FieldProblem(path, "Member must be an integer")
            return
        yield from _size_problems(shape, value, path, "value")
    elif kind == "boolean" and not isinstance(value, bool):
        yield FieldProblem(path, "Member must be a boolean")


def whole_match(pattern: str, value: str) -> bool:
    """Whether a model pattern matches the whole value. The model's patterns are anchored (`^...$`) and
    mean the whole value, as `$` does in the ECMAScript regexes Smithy patterns are; Python's `$` also
    matches before a final newline, so they are applied with `fullmatch` (grouped, so that an alternation
    too has to span the whole value)."""
    return _compiled(pattern).fullmatch(value) is not None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:{pattern})")


def _size_problems(
    shape: Shape, size: int, path: str, measure: str, value: Any = None
) -> Iterator[FieldProblem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        yield FieldProblem(path, f"Member must have {measure} greater than or equal to {low}", value)
    if high is not None and size > high:
        yield FieldProblem(path, f"Member must have {measure} less than or equal to {high}", value)


def validation_message(found: list[FieldProblem]) -> str:
    """The service's wording: `2 validation errors detected: Value 'x' at 'y' failed to satisfy ...`."""
    count = len(found)
    details = "; ".join(
        f"Value {_shown(problem.value)} at '{problem.name}' failed to satisfy constraint: {problem.message}"
        for problem in found
    )
    return f"{count} validation error{'s' if count != 1 else ''} detected: {details}"


def _shown(value: Any) -> str:
    text = "null" if value is None else str(value)
    return f"'{text[:64]}...'" if len(text) > 64 else f"'{text}'"


def redacted(shape: Shape, value: Any) -> Any:
    """The value with members the model marks sensitive (passwords) hidden, for logs and messages."""
    if shape.metadata.get("sensitive"):
        return SENSITIVE
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        return {
            name: redacted(shape.members[name], item) if name in shape.members else item
            for name, item in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [redacted(shape.member, item) for item in value]
    return value
