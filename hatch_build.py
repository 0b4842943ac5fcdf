"""Builds the handler's Lambda asset into the wheel, under `copied_snapshot/_lambda/`.

`index.py`, the runtime package, and crhelper (a build requirement, pinned in pyproject.toml) are assembled by
the same function a checkout uses (`copied_snapshot.handler_asset`), so an installed wheel synthesizes apps
with no pip, no Docker and no network.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ASSET_IN_WHEEL = "copied_snapshot/_lambda"


def _handler_asset(root: Path) -> ModuleType:
    """`copied_snapshot.handler_asset` by path: its package imports aws-cdk-lib, absent when building."""
    path = root / "constructs" / "copied_snapshot" / "handler_asset.py"
    spec = importlib.util.spec_from_file_location("_copied_snapshot_handler_asset", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HandlerAssetBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install runs from the checkout, which assembles its own asset.
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        asset = _handler_asset(root)
        self._directory = Path(tempfile.mkdtemp(prefix="copied-snapshot-asset-"))
        crhelper, licenses = asset.package_directory(asset.CRHELPER), asset.license_files(asset.CRHELPER)
        names = asset.assemble(self._directory, root / "lambda", crhelper, licenses)
        for name in names:
            build_data["force_include"][str(self._directory / name)] = f"{ASSET_IN_WHEEL}/{name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        directory = getattr(self, "_directory", None)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
