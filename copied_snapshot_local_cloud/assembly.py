"""Reading a cloud assembly (`cdk.out`) as the CDK CLI writes it: stacks, their order and their assets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from copied_snapshot_local_cloud.cloudformation.errors import DeploymentError

STACK = "aws:cloudformation:stack"
ASSETS = "cdk:asset-manifest"
UNKNOWN = ("unknown-account", "unknown-region")


class AssemblyError(DeploymentError, ValueError):
    """The assembly cannot be read or deployed as it is; the message says why."""


@dataclass(frozen=True)
class Stack:
    artifact_id: str
    stack_name: str
    template: Mapping[str, Any]
    account: str
    region: str
    dependencies: tuple[str, ...]
    # S3 object key of each file asset -> the directory or file it was staged as in the assembly
    assets: Mapping[str, Path] = field(default_factory=dict)


def read_assembly(directory: Path, *, default_account: str, default_region: str) -> list[Stack]:
    """The assembly's stacks, each after the stacks it depends on."""
    directory = directory.resolve()
    manifest_file = directory / "manifest.json"
    if not manifest_file.is_file():
        raise AssemblyError(f"{directory} is not a cloud assembly: it has no manifest.json (run `cdk synth`)")
    artifacts: Mapping[str, Any] = json.loads(manifest_file.read_text()).get("artifacts", {})
    stacks = {
        artifact_id: _stack(directory, artifact_id, artifacts, (default_account, default_region))
        for artifact_id, artifact in artifacts.items()
        if artifact.get("type") == STACK
    }
    order = TopologicalSorter({name: stack.dependencies for name, stack in stacks.items()})
    try:
        return [stacks[name] for name in order.static_order()]
    except CycleError as error:
        raise AssemblyError(f"the stacks depend on each other in a cycle: {error.args[1]}") from error


def _stack(
    directory: Path, artifact_id: str, artifacts: Mapping[str, Any], defaults: tuple[str, str]
) -> Stack:
    artifact = artifacts[artifact_id]
    default_account, default_region = defaults
    properties = artifact.get("properties", {})
    environment = str(artifact.get("environment", "aws://unknown-account/unknown-region"))
    account, region = environment.removeprefix("aws://").split("/", 1)
    assets: dict[str, Path] = {}
    dependencies = []
    for dependency in artifact.get("dependencies", []):
        kind = artifacts.get(dependency, {}).get("type")
        if kind == STACK:
            dependencies.append(dependency)
        elif kind == ASSETS:
            assets.update(_file_assets(directory, artifacts[dependency]))
    return Stack(
        artifact_id=artifact_id,
        stack_name=str(properties.get("stackName", artifact_id)),
        template=json.loads((directory / properties["templateFile"]).read_text()),
        account=default_account if account == UNKNOWN[0] else account,
        region=default_region if region == UNKNOWN[1] else region,
        dependencies=tuple(dependencies),
        assets=assets,
    )


def _file_assets(directory: Path, artifact: Mapping[str, Any]) -> dict[str, Path]:
    manifest = json.loads((directory / artifact["properties"]["file"]).read_text())
    found = {}
    for asset in manifest.get("files", {}).values():
        source = directory / asset["source"]["path"]
        for destination in asset.get("destinations", {}).values():
            found[str(destination["objectKey"])] = source
    return found
