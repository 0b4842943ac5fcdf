"""The handler's Lambda asset as one directory: `index.py`, the runtime package and crhelper, nothing else.

The wheel's build assembles it into `copied_snapshot/_lambda/`; a checkout assembles the same directory from
`lambda/` and the installed crhelper into a cache. Either way an app synthesizes without pip, Docker or a
network, and the same sources always give the same files (so the same asset hash). This module imports only
the standard library: the wheel's build hook loads it by path, before anything of the project is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

ENTRY_POINT = "index.py"
RUNTIME_PACKAGE = "copied_snapshot_runtime"
CRHELPER = "crhelper"
# Left out of the asset: Python writes them wherever the sources are imported or installed.
EXCLUDE = ("__pycache__", "*.pyc")


def package_directory(name: str) -> Path:
    """The directory of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {name} package is not installed: the handler's asset needs it")
    return Path(next(iter(spec.submodule_search_locations)))


def license_files(distribution: str) -> dict[str, Path]:
    """An installed distribution's LICENSE and NOTICE files by name.

    The asset redistributes crhelper, whose Apache-2.0 license asks that both go with it (Apache License 2.0,
    section 4).
    """
    found: dict[str, Path] = {}
    for file in metadata.distribution(distribution).files or []:
        if file.parts[0].endswith(".dist-info") and file.name.upper().startswith(("LICENSE", "NOTICE")):
            found[file.name] = Path(str(file.locate()))
    return found


def asset_files(
    lambda_dir: Path, crhelper_dir: Path, crhelper_licenses: Mapping[str, Path] | None = None
) -> dict[str, Path]:
    """Each file of the asset by its path in the asset (POSIX, sorted), with the file it is copied from.

    crhelper's license files (`license_files`) go into its directory in the asset.
    """
    files = {ENTRY_POINT: lambda_dir / ENTRY_POINT}
    for name, source in (crhelper_licenses or {}).items():
        files[f"{CRHELPER}/{name}"] = source
    for prefix, root in ((RUNTIME_PACKAGE, lambda_dir / RUNTIME_PACKAGE), (CRHELPER, crhelper_dir)):
        if not root.is_dir():
            raise FileNotFoundError(f"the handler's asset needs {root}")
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and not _excluded(relative):
                files[f"{prefix}/{relative.as_posix()}"] = path
    return dict(sorted(files.items()))


def _excluded(relative: Path) -> bool:
    return "__pycache__" in relative.parts or relative.suffix == ".pyc"


def assemble(
    destination: Path,
    lambda_dir: Path,
    crhelper_dir: Path,
    crhelper_licenses: Mapping[str, Path] | None = None,
) -> list[str]:
    """Copies the asset's files into `destination`; answers their paths inside it."""
    files = asset_files(lambda_dir, crhelper_dir, crhelper_licenses)
    for name, source in files.items():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return list(files)


def digest(files: dict[str, Path]) -> str:
    """A digest of the asset's file names and contents: the cache's key."""
    hashed = hashlib.sha256()
    for name, source in files.items():
        content = source.read_bytes()
        hashed.update(f"{name}\0{len(content)}\0".encode())
        hashed.update(content)
    return hashed.hexdigest()


def cached(
    cache: Path,
    lambda_dir: Path,
    crhelper_dir: Path,
    crhelper_licenses: Mapping[str, Path] | None = None,
) -> Path:
    """The asset assembled under `cache` in a directory named by its digest, made once and never rewritten.

    It is assembled beside its final name and renamed into place, so that processes synthesizing at the same
    time each see either no directory or a complete one.
    """
    target = cache / digest(asset_files(lambda_dir, crhelper_dir, crhelper_licenses))[:32]
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
    try:
        staging.chmod(0o755)  # mkdtemp's is 0o700; the asset's directory is read as any other
        assemble(staging, lambda_dir, crhelper_dir, crhelper_licenses)
        staging.rename(target)
    except OSError:
        if not target.is_dir():  # not another process that got there first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
