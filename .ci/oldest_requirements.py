"""Prints the oldest aws-cdk-lib and constructs pyproject.toml allows, as pip pins (`name==version`).

CI installs them to run the construct's tests, so that a range's lower bound is a version that was tested.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

OLDEST_TESTED = ("aws-cdk-lib", "constructs")


def oldest_pins(pyproject: Path) -> list[str]:
    """`name==lower bound` for each of OLDEST_TESTED, from the project's dependencies."""
    dependencies = [
        Requirement(text) for text in tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    ]
    pins = []
    for name in OLDEST_TESTED:
        [requirement] = [found for found in dependencies if found.name == name]
        [bound] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        pins.append(f"{name}=={bound}")
    return pins


if __name__ == "__main__":
    print(" ".join(oldest_pins(Path(__file__).resolve().parents[1] / "pyproject.toml")))
