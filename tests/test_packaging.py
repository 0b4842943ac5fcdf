"""The package: its dependency ranges and tested pins, the handler asset it ships, its metadata, the wheel."""

from __future__ import annotations

import json
import os
import re
import runpy
import socket
import subprocess
import sys
import textwrap
import tomllib
import venv
import zipfile
from collections.abc import Callable, Iterator
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import App, Environment, Stack
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import copied_snapshot
from copied_snapshot import CopiedSnapshot, handler_asset

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCE = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/source-1"
# The packages the wheel installs, by their directory in the wheel.
INSTALLED_PACKAGES = ("copied_snapshot", "copied_snapshot_runtime", "copied_snapshot_local_cloud")
# pip's settings before any test changed them (the fixture below takes them away).
ORIGINAL_PIP_SETTINGS = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
ASSET_SAMPLE = (
    "index.py",
    "copied_snapshot_runtime/handler.py",
    "crhelper/resource_helper.py",
    "crhelper/LICENSE",
    "crhelper/NOTICE",
)

oldest_pins = cast(
    Callable[[Path], list[str]], runpy.run_path(str(ROOT / ".ci" / "oldest_requirements.py"))["oldest_pins"]
)


def requirements() -> list[Requirement]:
    return [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]


def constraints() -> dict[str, str]:
    """constraints.txt as {normalized name: pinned version}."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


@pytest.fixture
def unreachable_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """pip pointed at a closed loopback port, with no index, config file or local wheel directory."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = {
        "PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple",
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    yield settings


def synthesized_assets(outdir: Path) -> dict[str, Path]:
    """The directory assets of a synthesized assembly, by asset hash."""
    return {
        entry.name.removeprefix("asset."): entry
        for entry in outdir.iterdir()
        if entry.name.startswith("asset.") and entry.is_dir()
    }


# -- 1. Dependency ranges and the tested pins -------------------------------------------------------------


def test_runtime_dependencies_are_ranges_within_their_major_version() -> None:
    found = {requirement.name: requirement for requirement in requirements()}
    for name in ("aws-cdk-lib", "constructs", "boto3", "botocore"):
        specifiers = {spec.operator: spec.version for spec in found[name].specifier}
        assert set(specifiers) == {">=", "<"}, (name, specifiers)
        assert specifiers["<"] == str(int(specifiers[">="].split(".")[0]) + 1), (name, specifiers)


def test_constraints_pin_a_version_within_range_of_every_requirement() -> None:
    pins = constraints()
    extras = PYPROJECT["project"]["optional-dependencies"]
    every = [*requirements(), *(Requirement(text) for group in extras.values() for text in group)]
    for requirement in every:
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(PYPROJECT["project"]["name"]):
            continue
        assert name in pins, f"constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pins[name]), (requirement, pins[name])
    for pinned in ("aws-cdk-lib", "constructs", "boto3", "botocore", "crhelper"):
        assert pins[pinned] == metadata.version(pinned), f"constraints.txt is not what is tested: {pinned}"


def test_the_set_up_installs_the_tested_pins_and_reinstalls_when_they_change() -> None:
    setup = (ROOT / "run.sh").read_text()
    assert re.search(r'pip install [^\n]*-c constraints\.txt -e "\.\[dev\]"', setup)
    assert re.search(r'\[ constraints\.txt -nt "\$stamp" \]', setup)


def test_ci_runs_the_construct_tests_against_the_oldest_allowed_versions() -> None:
    assert oldest_pins(ROOT / "pyproject.toml") == [
        f"{requirement.name}=={spec.version}"
        for requirement in requirements()
        if requirement.name in ("aws-cdk-lib", "constructs")
        for spec in requirement.specifier
        if spec.operator == ">="
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".ci/oldest_requirements.py" in ci
    assert re.search(r"pytest [^\n]* tests/construct\b", ci)
    assert any((ROOT / "tests" / "construct").glob("test_*.py"))


# -- 2. The handler asset ---------------------------------------------------------------------------------


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_sources(root: Path) -> tuple[Path, Path]:
    sources, crhelper = root / "lambda", root / "site" / "crhelper"
    write(sources / "index.py", "from copied_snapshot_runtime.handler import handler\n")
    write(sources / "requirements.txt", "crhelper\n")
    write(sources / "copied_snapshot_runtime" / "handler.py", "handler = print\n")
    write(sources / "copied_snapshot_runtime" / "__pycache__" / "handler.cpython-311.pyc")
    write(crhelper / "__init__.py", "from crhelper.resource_helper import CfnResource\n")
    write(crhelper / "resource_helper.py", "CfnResource = object\n")
    write(crhelper / "stale.pyc")
    return sources, crhelper


def test_the_asset_is_the_entry_point_the_runtime_and_crhelper_without_caches(tmp_path: Path) -> None:
    sources, crhelper = fake_sources(tmp_path)
    write(tmp_path / "NOTICE", "crhelper\n")
    licenses = {"NOTICE": tmp_path / "NOTICE"}
    assert list(handler_asset.asset_files(sources, crhelper, licenses)) == [
        "copied_snapshot_runtime/handler.py",
        "crhelper/NOTICE",
        "crhelper/__init__.py",
        "crhelper/resource_helper.py",
        "index.py",
    ]
    names = handler_asset.assemble(tmp_path / "out", sources, crhelper, licenses)
    assembled = (tmp_path / "out").rglob("*")
    assert sorted(str(path.relative_to(tmp_path / "out")) for path in assembled if path.is_file()) == names


def test_crhelper_goes_with_its_license_and_notice() -> None:
    assert sorted(handler_asset.license_files("crhelper")) == ["LICENSE", "NOTICE"]


def test_the_cached_asset_is_made_once_per_content(tmp_path: Path) -> None:
    sources, crhelper = fake_sources(tmp_path)
    cache = tmp_path / "cache"
    first = handler_asset.cached(cache, sources, crhelper)
    assert handler_asset.cached(cache, sources, crhelper) == first
    write(sources / "copied_snapshot_runtime" / "handler.py", "handler = repr\n")
    second = handler_asset.cached(cache, sources, crhelper)
    assert second != first
    assert (second / "copied_snapshot_runtime" / "handler.py").read_text() == "handler = repr\n"
    assert sorted(entry.name for entry in cache.iterdir()) == sorted([first.name, second.name])


def synthesize(outdir: Path) -> dict[str, Path]:
    app = App(outdir=str(outdir))
    stack = Stack(app, "Bundled", env=Environment(account="123456789012", region="us-east-1"))
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    app.synth()
    return synthesized_assets(outdir)


def test_a_checkout_synthesizes_the_same_asset_with_no_package_index(
    tmp_path: Path, unreachable_index: dict[str, str]
) -> None:
    first, second = synthesize(tmp_path / "first"), synthesize(tmp_path / "second")
    assert list(first) == list(second)
    [asset] = first.values()
    for name in ASSET_SAMPLE:
        assert (asset / name).is_file(), name
    assert not list(asset.rglob("__pycache__"))
    assert not (asset / "requirements.txt").exists()
    # The asset imports on its own: the entry point resolves from the asset directory alone.
    check = "import index; assert callable(index.handler)"
    env = {**os.environ, "PYTHONPATH": str(asset), "AWS_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-c", check], cwd=asset, env=env, check=True)


# -- 3. Metadata ------------------------------------------------------------------------------------------


def test_every_installed_package_is_typed_and_the_license_is_apache() -> None:
    for directory in PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        assert (ROOT / directory / "py.typed").is_file(), directory
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_the_version_has_one_source() -> None:
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "constructs/copied_snapshot/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", copied_snapshot.__version__)


# -- The wheel, installed beside another aws-cdk-lib, synthesizing with no package index ------------------

USER_APP = """
import copied_snapshot, json, sys
from importlib import metadata
from pathlib import Path
from aws_cdk import App, Environment, Stack
from copied_snapshot import CopiedSnapshot

assert "site-packages" in copied_snapshot.__file__, copied_snapshot.__file__
hashes = []
for outdir in ("cdk.out.1", "cdk.out.2"):
    app = App(outdir=outdir)
    stack = Stack(app, "UserStack", env=Environment(account="123456789012", region="us-east-1"))
    CopiedSnapshot(stack, "Copy", source_snapshot_arn="{source}")
    assembly = app.synth()
    template = assembly.get_stack_by_name("UserStack").template
    hashes.append(sorted(entry.name for entry in Path(outdir).iterdir() if entry.name.startswith("asset.")))

from copied_snapshot_local_cloud.docdb_elastic import LocalDocDBElastic
with LocalDocDBElastic() as service:
    spec = {{"account": "123456789012", "region": "us-east-1", "name": "seeded"}}
    [arn] = service.seed({{"snapshots": [spec]}})["snapshots"]
    snapshot = service.client().get_cluster_snapshot(snapshotArn=arn)["snapshot"]
    assert snapshot["status"] == "ACTIVE", snapshot
print(json.dumps({{
    "types": sorted({{r["Type"] for r in template["Resources"].values()}}),
    "assets": hashes,
    "aws-cdk-lib": metadata.version("aws-cdk-lib"),
    "version": copied_snapshot.__version__,
}}))
"""


def build_wheel(dist: Path, env: dict[str, str]) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        env=env,
    )
    [wheel] = dist.glob("copied_snapshot-*.whl")
    return wheel


def check_wheel_contents(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    for name in ASSET_SAMPLE:
        assert f"copied_snapshot/_lambda/{name}" in names, name
    assert not [
        name for name in names if "__pycache__" in name or name.endswith((".pyc", "requirements.txt"))
    ]
    for package in INSTALLED_PACKAGES:
        assert f"{package}/py.typed" in names, package
    assert not any(name.startswith(("constructs/", "lambda/", "tests/")) for name in names)
    [info] = {name.split("/")[0] for name in names if ".dist-info/" in name}
    assert f"{info}/licenses/LICENSE" in names
    fields = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert fields["Version"] == copied_snapshot.__version__
    assert fields["License-Expression"] == "Apache-2.0"
    assert "Typing :: Typed" in fields.get_all("Classifier", [])
    assert fields.get_all("Project-URL") is None
    assert fields["Description-Content-Type"] == "text/markdown"
    assert fields.get_payload() == (ROOT / "docs" / "PACKAGE.md").read_text()
    assert "aws-cdk-lib<3,>=2.271.0" in fields.get_all("Requires-Dist", [])


@pytest.mark.slow
def test_the_wheel_installs_beside_another_aws_cdk_lib_and_synthesizes_with_no_package_index(
    tmp_path: Path, unreachable_index: dict[str, str]
) -> None:
    # Building and installing need the index: they run with the settings the fixture replaced.
    offline = {**os.environ}
    online = {k: v for k, v in os.environ.items() if k not in unreachable_index}
    online.update(ORIGINAL_PIP_SETTINGS)
    wheel = build_wheel(tmp_path / "dist", online)
    check_wheel_contents(wheel)

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    oldest = oldest_pins(ROOT / "pyproject.toml")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[local]", *oldest],
        check=False, capture_output=True, text=True, env=online,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]

    user_app = tmp_path / "user-app"
    user_app.mkdir()
    (user_app / "stack.py").write_text(textwrap.dedent(USER_APP.format(source=SOURCE)))
    result = subprocess.run(
        [str(python), "stack.py"], cwd=user_app, check=False, capture_output=True, text=True,
        env={k: v for k, v in offline.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert "Custom::CopiedSnapshot" in report["types"]
    assert report["version"] == copied_snapshot.__version__
    # Another aws-cdk-lib 2.x than the project's pin: the oldest the ranges allow.
    assert f"aws-cdk-lib=={report['aws-cdk-lib']}" in oldest
    assert report["aws-cdk-lib"] != constraints()["aws-cdk-lib"]
    # The same asset twice, and the same as a checkout's: one assembly serves both.
    first, second = report["assets"]
    assert first == second
    [asset_name] = first
    assert asset_name.removeprefix("asset.") in synthesize(tmp_path / "checkout")
    asset = user_app / "cdk.out.1" / asset_name
    for name in ASSET_SAMPLE:
        assert (asset / name).is_file(), name
