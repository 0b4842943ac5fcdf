"""The handler's Lambda asset, ready-made: synthesizing runs no pip and no Docker, and needs no network.

Installed from the wheel, the asset is `_lambda/` beside this module, assembled when the wheel was built. In
a checkout it is assembled from `lambda/` and the installed crhelper into `build/handler-asset/`
(`handler_asset.cached`). crhelper is pure Python, so the same files serve every Lambda architecture.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from copied_snapshot import handler_asset

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PACKAGED = Path(__file__).parent / "_lambda"
_CHECKOUT = Path(__file__).resolve().parents[2]
CHECKOUT_CACHE = _CHECKOUT / "build" / "handler-asset"


def asset_directory() -> Path:
    """The asset inside the installed wheel, or assembled from a checkout's `lambda/` and crhelper."""
    if (PACKAGED / handler_asset.ENTRY_POINT).is_file():
        return PACKAGED
    sources = _CHECKOUT / "lambda"
    if (sources / handler_asset.ENTRY_POINT).is_file():
        crhelper = handler_asset.package_directory(handler_asset.CRHELPER)
        licenses = handler_asset.license_files(handler_asset.CRHELPER)
        return handler_asset.cached(CHECKOUT_CACHE, sources, crhelper, licenses)
    raise FileNotFoundError(
        f"the CopiedSnapshot handler sources are missing (looked in {PACKAGED} and {sources})"
    )


def handler_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(asset_directory()), exclude=list(handler_asset.EXCLUDE))
