#!/usr/bin/env python3
"""Run the whole test suite several times in a row and print one row per run: a suite that passes once
may still hold a race, and the end-to-end tests run in the local cloud's hostile order every time.

Usage: `python bench/repeat_suite.py --runs 10 [-- pytest arguments]`, e.g. `-- -n 2 --dist loadfile` to
spread the files over two workers (pytest-xdist, a dev dependency). Exit 1 if any run did not pass, or
collected no test. `--stop` ends at the first run that fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pytest's last line, e.g. "3 failed, 794 passed, 2 warnings in 612.30s (0:10:12)" (framed by "=" without -q).
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


@dataclass(frozen=True)
class Run:
    number: int
    exit_code: int
    counts: dict[str, int]
    seconds: float
    failures: list[str]

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.counts.get("passed", 0) > 0


def summary_counts(output: str) -> dict[str, int]:
    """The counts of pytest's final summary line (empty when it never printed one)."""
    lines = [line for line in output.splitlines() if COUNT.search(line) and " in " in line]
    if not lines:
        return {}
    return {
        kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in COUNT.findall(lines[-1])
    }


def failed_tests(output: str) -> list[str]:
    return [
        line.split(" ", 1)[1].split(" - ")[0]
        for line in output.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]


def run_once(number: int, pytest_args: list[str], log_dir: Path) -> Run:
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - this interpreter, the user's own pytest arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    output = completed.stdout + completed.stderr
    (log_dir / f"run-{number:02d}.log").write_text(output)
    return Run(number, completed.returncode, summary_counts(output), seconds, failed_tests(output))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--stop", action="store_true", help="end at the first run that does not pass")
    parser.add_argument(
        "--logs", type=Path, default=ROOT / ".repeat-logs", help="where each run's output goes"
    )
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    pytest_args = [a for a in options.pytest_args if a != "--"]
    options.logs.mkdir(parents=True, exist_ok=True)
    print(
        f"{'run':>3}  {'result':<6}  {'passed':>6}  {'failed':>6}  {'errors':>6}  {'minutes':>7}  failures",
        flush=True,
    )
    runs: list[Run] = []
    for number in range(1, options.runs + 1):
        run = run_once(number, pytest_args, options.logs)
        runs.append(run)
        c = run.counts
        result = "pass" if run.passed else "FAIL"
        print(
            f"{number:>3}  {result:<6}  {c.get('passed', 0):>6}  {c.get('failed', 0):>6}  "
            f"{c.get('error', 0):>6}  {run.seconds / 60:>7.1f}  {', '.join(run.failures)}",
            flush=True,
        )
        if options.stop and not run.passed:
            break
    good = sum(run.passed for run in runs)
    print(f"{good} of {len(runs)} runs passed (logs in {options.logs})")
    return 0 if good == len(runs) == options.runs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
