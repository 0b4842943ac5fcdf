"""Running a short Python script in its own process, for what only a process of its own shows (signals)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.constants import ROOT


def run_script(script: str, *, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The script (dedented) run from the project's root; a hang fails the test by its timeout."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
