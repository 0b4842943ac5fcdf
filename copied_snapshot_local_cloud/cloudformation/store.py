"""Deployed stacks, kept as JSON in the local cloud's state directory between commands."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ResourceState:
    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any]  # as resolved when the resource was last created or updated
    attributes: dict[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"


@dataclass
class StackState:
    stack_name: str
    stack_id: str
    account: str
    region: str
    status: str
    template: dict[str, Any]
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)

    @staticmethod
    def from_json(data: dict[str, Any]) -> StackState:
        resources = {name: ResourceState(**value) for name, value in data.pop("resources").items()}
        return StackState(**data, resources=resources)


class StackStore:
    def __init__(self, directory: Path) -> None:
        self._directory = directory / "stacks"
        self._directory.mkdir(parents=True, exist_ok=True)

    def _file(self, stack_name: str) -> Path:
        return self._directory / f"{stack_name}.json"

    def load(self, stack_name: str) -> StackState | None:
        file = self._file(stack_name)
        return StackState.from_json(json.loads(file.read_text())) if file.is_file() else None

    def save(self, stack: StackState) -> None:
        temporary = self._file(stack.stack_name).with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(stack), indent=1, sort_keys=True, default=str))
        temporary.replace(self._file(stack.stack_name))

    def remove(self, stack_name: str) -> None:
        self._file(stack_name).unlink(missing_ok=True)

    def all(self) -> list[StackState]:
        return [
            StackState.from_json(json.loads(file.read_text()))
            for file in sorted(self._directory.glob("*.json"))
        ]

    def importers(self, stack: StackState) -> list[str]:
        """Other stacks of the same account and region that import one of `stack`'s exports."""
        return [
            other.stack_name
            for other in self.all()
            if other.stack_name != stack.stack_name
            and (other.account, other.region) == (stack.account, stack.region)
            and set(other.imports) & set(stack.exports)
        ]

    def export(self, account: str, region: str, name: str) -> tuple[str, Any] | None:
        """The stack exporting `name` in this account and region, and the value."""
        for stack in self.all():
            if (stack.account, stack.region) == (account, region) and name in stack.exports:
                return stack.stack_name, stack.exports[name]
        return None
