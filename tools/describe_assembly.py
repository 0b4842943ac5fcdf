"""Prints what a synthesized cloud assembly declares: stacks, the snapshot copies, references and outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COPY_TYPE = "Custom::CopiedSnapshot"


def _render(value: Any) -> str:
    """An intrinsic written the way a person reads it."""
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Fn::GetAtt":
            return f"{argument[0]}.{argument[1]}"
        if function == "Ref":
            return f"Ref({argument})"
        if function == "Fn::ImportValue":
            return f"import of {argument}"
        if function == "Fn::Join":
            return "".join(_render(part) for part in argument[1])
    return str(value)


def describe(assembly: Path) -> list[str]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    lines: list[str] = []
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
        resources: dict[str, Any] = template.get("Resources", {})
        depends = [d for d in artifact.get("dependencies", []) if not d.endswith(".assets")]
        lines.append(
            f"stack {name} ({artifact['environment']})" + (f", after {', '.join(depends)}" if depends else "")
        )
        counts: dict[str, int] = {}
        for resource in resources.values():
            counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
        for kind, count in sorted(counts.items()):
            lines.append(f"  {count} x {kind}")
        for logical_id, resource in resources.items():
            if resource["Type"] != COPY_TYPE:
                continue
            props = resource["Properties"]
            lines.append(f"  snapshot copy {logical_id}:")
            for key in ("SourceSnapshotArn", "TargetSnapshotName", "KmsKeyId", "CopyTags", "TimeoutSeconds"):
                if key in props:
                    lines.append(f"    {key}: {_render(props[key])}")
            tags = ", ".join(f"{tag['Key']}={tag['Value']}" for tag in props.get("Tags", []))
            lines.append(f"    Tags: {tags or '-'}")
            lines.append(f"    DeletionPolicy: {resource.get('DeletionPolicy', 'Delete')}")
        for output_name, output in template.get("Outputs", {}).items():
            export = f" (exported as {output['Export']['Name']})" if "Export" in output else ""
            lines.append(f"  output {output_name} = {_render(output['Value'])}{export}")
        for logical_id, resource in resources.items():
            for key, value in resource.get("Properties", {}).items():
                if isinstance(value, dict) and "Fn::ImportValue" in value:
                    lines.append(f"  {logical_id}.{key} <- {_render(value)}")
    return lines


if __name__ == "__main__":
    print("\n".join(describe(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))))
