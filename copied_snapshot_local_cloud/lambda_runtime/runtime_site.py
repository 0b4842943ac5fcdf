"""The packages Lambda's Python runtime provides (boto3 and what it needs), and nothing else.

A function that works here because some package happened to be installed on the developer's machine would
fail in Lambda; so the worker sees a directory holding only the AWS SDK, linked from this environment.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

RUNTIME_DISTRIBUTION = "boto3"
_NAME = re.compile(r"^[A-Za-z0-9._-]+")


def _requirements(name: str) -> set[str]:
    """The distribution and everything it requires (extras left out), by normalized name."""
    found: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop().lower().replace("_", "-")
        if current in found:
            continue
        found.add(current)
        for requirement in metadata.distribution(current).requires or []:
            match = _NAME.match(requirement)
            if match and "extra ==" not in requirement:
                pending.append(match[0])
    return found


def _top_level(name: str) -> set[Path]:
    """The importable files and packages a distribution installed."""
    distribution = metadata.distribution(name)
    found: set[Path] = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info")) or first in {"..", "__pycache__"}:
            continue
        if len(file.parts) == 1 and not first.endswith(".py"):
            continue
        found.add(Path(str(distribution.locate_file(first))))
    return found


def build(directory: Path) -> Path:
    """Fill `directory` with links to the runtime's packages; answers it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in sorted(_requirements(RUNTIME_DISTRIBUTION)):
        for source in _top_level(name):
            link = directory / source.name
            if not link.exists():
                link.symlink_to(source)
    return directory
