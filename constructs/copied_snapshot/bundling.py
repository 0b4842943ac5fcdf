"""Builds the handler's Lambda asset without Docker: the `lambda/` sources plus crhelper from PyPI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
_PIP_PLATFORM = "manylinux2014_aarch64"
_EXCLUDE = ("__pycache__", "*.pyc")


def asset_directory() -> Path:
    """The handler sources: packaged inside the wheel, or `lambda/` beside `constructs/` in a checkout."""
    packaged = Path(__file__).parent / "_lambda"
    if (packaged / "index.py").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "lambda"
    if (checkout / "index.py").is_file():
        return checkout
    raise FileNotFoundError(
        f"the CopiedSnapshot handler sources are missing (looked in {packaged} and {checkout})"
    )


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """Copies the sources and pip-installs `requirements.txt` for the Lambda's platform and Python."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        shutil.copytree(
            self._source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_EXCLUDE)
        )
        python_version = RUNTIME.name.removeprefix("python")
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--requirement", str(self._source / "requirements.txt"), "--target", output_dir,
            "--platform", _PIP_PLATFORM, "--implementation", "cp", "--python-version", python_version,
            "--only-binary=:all:", "--no-compile",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            # Returning False would fall back to Docker, which is not what anyone here wants.
            raise RuntimeError(f"bundling the CopiedSnapshot handler failed:\n{result.stderr}")
        return True


def handler_code() -> lambda_.Code:
    source = asset_directory()
    return lambda_.Code.from_asset(
        str(source),
        exclude=list(_EXCLUDE),
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            # jsii's Python typing spells `options` out as keywords, but passes it positionally.
            local=cast(ILocalBundling, LocalPipBundler(source)),
        ),
    )
