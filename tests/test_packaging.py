"""The real asset and the real wheel: slow, so they run once each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack

from copied_snapshot import CopiedSnapshot

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/source-1"


@pytest.mark.slow
def test_bundled_asset_holds_the_handler_and_crhelper(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Bundled", env=Environment(account="123456789012", region="us-east-1"))
    CopiedSnapshot(stack, "Copy", source_snapshot_arn=SOURCE)
    assembly = app.synth()
    [asset] = [
        Path(assembly.directory) / entry.name
        for entry in Path(assembly.directory).iterdir()
        if entry.name.startswith("asset.") and entry.is_dir()
    ]
    assert (asset / "index.py").is_file()
    assert (asset / "copied_snapshot_runtime" / "handler.py").is_file()
    assert (asset / "crhelper" / "resource_helper.py").is_file()
    assert not list(asset.rglob("__pycache__"))
    # The asset imports on its own: the entry point resolves from the asset directory alone.
    check = "import index; assert callable(index.handler)"
    env = {**os.environ, "PYTHONPATH": str(asset), "AWS_REGION": "us-east-1"}
    subprocess.run([sys.executable, "-c", check], cwd=asset, env=env, check=True)


@pytest.mark.slow
def test_wheel_installs_and_synthesizes_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("copied_snapshot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "copied_snapshot/_lambda/index.py" in names
    assert "copied_snapshot/_lambda/requirements.txt" in names
    assert "copied_snapshot_local_cloud/docdb_elastic/server.py" in names
    assert not any(name.startswith(("constructs/", "lambda/", "tests/")) for name in names)

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[local]"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    user_app = tmp_path / "user-app"
    user_app.mkdir()
    (user_app / "stack.py").write_text(
        textwrap.dedent(
            f"""
            import copied_snapshot, json, sys
            from aws_cdk import App, Environment, Stack
            from copied_snapshot import CopiedSnapshot

            assert "site-packages" in copied_snapshot.__file__, copied_snapshot.__file__
            app = App(outdir="cdk.out")
            stack = Stack(app, "UserStack", env=Environment(account="123456789012", region="us-east-1"))
            CopiedSnapshot(stack, "Copy", source_snapshot_arn="{SOURCE}")
            assembly = app.synth()
            template = assembly.get_stack_by_name("UserStack").template

            from copied_snapshot_local_cloud.docdb_elastic import LocalDocDBElastic
            with LocalDocDBElastic() as service:
                spec = {{"account": "123456789012", "region": "us-east-1", "name": "seeded"}}
                [arn] = service.seed({{"snapshots": [spec]}})["snapshots"]
                snapshot = service.client().get_cluster_snapshot(snapshotArn=arn)["snapshot"]
                assert snapshot["status"] == "ACTIVE", snapshot
            print(json.dumps(sorted({{r["Type"] for r in template["Resources"].values()}})))
            """
        )
    )
    result = subprocess.run(
        [str(python), "stack.py"], cwd=user_app, check=False, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Custom::CopiedSnapshot" in result.stdout.splitlines()[-1]
    assets = [entry for entry in (user_app / "cdk.out").iterdir() if entry.name.startswith("asset.")]
    assert any((asset / "crhelper").is_dir() and (asset / "index.py").is_file() for asset in assets)
