"""CloudFormation's intrinsic functions, conditions and rules, evaluated against a deployed stack's values.

Supported: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If, Fn::ImportValue, Fn::Base64,
the condition functions (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition) and Fn::Contains in rules, and the
pseudo parameters. Anything else is a TemplateError that names it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from copied_snapshot_local_cloud.cloudformation.errors import TemplateError

NO_VALUE = "AWS::NoValue"
_SUB = re.compile(r"\$\{([^}]*)\}")


class _NoValue:
    def __repr__(self) -> str:
        return NO_VALUE


REMOVED = _NoValue()


@dataclass(frozen=True)
class Scope:
    """Where names in a template get their values."""

    pseudo: Mapping[str, Any]
    parameters: Mapping[str, Any]
    conditions: Mapping[str, bool]
    ref: Callable[[str], Any]  # a resource's Ref value
    get_att: Callable[[str, str], Any]
    import_value: Callable[[str], Any]


def resolve(value: Any, scope: Scope) -> Any:
    """The value with every intrinsic function evaluated; `AWS::NoValue` members are dropped."""
    if isinstance(value, list):
        return [item for item in (resolve(entry, scope) for entry in value) if item is not REMOVED]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(name, argument)] = value.items()
        function = _FUNCTIONS.get(name)
        if function is not None:
            try:
                return function(argument, scope)
            except TemplateError:
                raise
            except (TypeError, ValueError, IndexError, AttributeError) as error:  # malformed arguments
                raise TemplateError(f"{name} cannot evaluate {argument!r}: {error}") from error
        if name.startswith("Fn::"):
            raise TemplateError(f"intrinsic function {name} is not supported by the local cloud")
    return {
        key: item for key, item in ((k, resolve(v, scope)) for k, v in value.items()) if item is not REMOVED
    }


def _ref(name: Any, scope: Scope) -> Any:
    if name == NO_VALUE:
        return REMOVED
    if name in scope.pseudo:
        return scope.pseudo[name]
    if name in scope.parameters:
        return scope.parameters[name]
    return scope.ref(str(name))


def _get_att(argument: Any, scope: Scope) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    logical_id, attribute = (resolve(part, scope) for part in argument)
    return scope.get_att(str(logical_id), str(attribute))


def _join(argument: Any, scope: Scope) -> str:
    delimiter, items = argument
    return str(delimiter).join(_text(item) for item in resolve(items, scope))


def _sub(argument: Any, scope: Scope) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {name: resolve(item, scope) for name, item in variables.items()}

    def replace(found: re.Match[str]) -> str:
        name = found[1]
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return _text(values[name])
        if "." in name and name.split(".", 1)[0] not in scope.pseudo:
            logical_id, attribute = name.split(".", 1)
            return _text(scope.get_att(logical_id, attribute))
        return _text(_ref(name, scope))

    return _SUB.sub(replace, text)


def _select(argument: Any, scope: Scope) -> Any:
    index, items = argument
    items = resolve(items, scope)
    position = int(resolve(index, scope))
    if not 0 <= position < len(items):
        raise TemplateError(f"Fn::Select index {position} is outside a list of {len(items)}")
    return items[position]


def _split(argument: Any, scope: Scope) -> list[str]:
    delimiter, text = argument
    return _text(resolve(text, scope)).split(str(delimiter))


def _if(argument: Any, scope: Scope) -> Any:
    name, when_true, when_false = argument
    if name not in scope.conditions:
        raise TemplateError(f"Fn::If names condition {name!r}, which the template does not declare")
    return resolve(when_true if scope.conditions[name] else when_false, scope)


def _import_value(argument: Any, scope: Scope) -> Any:
    return scope.import_value(_text(resolve(argument, scope)))


def _base64(argument: Any, scope: Scope) -> str:
    return base64.b64encode(_text(resolve(argument, scope)).encode()).decode()


def condition(expression: Any, scope: Scope) -> bool:
    """A condition's truth: Fn::Equals, Fn::And, Fn::Or, Fn::Not, Fn::Contains, Condition."""
    if isinstance(expression, dict) and len(expression) == 1:
        [(name, argument)] = expression.items()
        function = _CONDITIONS.get(name)
        if function is not None:
            return function(argument, scope)
    value = resolve(expression, scope)
    if isinstance(value, bool) or str(value).lower() in {"true", "false"}:
        return str(value).lower() == "true"
    raise TemplateError(f"{expression!r} is not a condition")


def _equals(argument: Any, scope: Scope) -> bool:
    left, right = (resolve(item, scope) for item in argument)
    return _text(left) == _text(right)


def _contains(argument: Any, scope: Scope) -> bool:
    items, item = (resolve(part, scope) for part in argument)
    return _text(item) in [_text(entry) for entry in items]


_CONDITIONS: dict[str, Callable[[Any, Scope], bool]] = {
    "Condition": lambda argument, scope: bool(scope.conditions[argument]),
    "Fn::Equals": _equals,
    "Fn::And": lambda argument, scope: all(condition(item, scope) for item in argument),
    "Fn::Or": lambda argument, scope: any(condition(item, scope) for item in argument),
    "Fn::Not": lambda argument, scope: not condition(argument[0], scope),
    "Fn::Contains": _contains,
}


def evaluate_conditions(declared: Mapping[str, Any], scope: Scope) -> dict[str, bool]:
    """Every declared condition, each evaluated once, in whatever order they refer to each other."""
    results: dict[str, bool] = {}
    pending = dict(declared)
    while pending:
        progressed = False
        for name, expression in list(pending.items()):
            try:
                results[name] = condition(expression, _with_conditions(scope, results))
            except KeyError:
                continue
            del pending[name]
            progressed = True
        if not progressed:
            raise TemplateError(f"conditions {sorted(pending)} refer to conditions that never resolve")
    return results


def _with_conditions(scope: Scope, conditions: Mapping[str, bool]) -> Scope:
    return Scope(scope.pseudo, scope.parameters, conditions, scope.ref, scope.get_att, scope.import_value)


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, Fn::GetAtt, Fn::Sub), for the order resources are made in."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for name, argument in value.items():
            if name == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif name == "Fn::GetAtt":
                found.add(argument.split(".", 1)[0] if isinstance(argument, str) else str(argument[0]))
            elif name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                found |= {match.split(".", 1)[0] for match in _SUB.findall(text) if not match.startswith("!")}
                found |= references(argument[1:] if isinstance(argument, list) else [])
            else:
                found |= references(argument)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::ImportValue": _import_value,
    "Fn::Base64": _base64,
}
