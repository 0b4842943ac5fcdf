"""The repeat script reads pytest's own summary: a run counts as passed only with tests that passed."""

from __future__ import annotations

from bench.repeat_suite import Run, failed_tests, summary_counts

OUTPUT = """\
tests/test_a.py ....F
FAILED tests/test_a.py::test_one - AssertionError: boom
ERROR tests/test_b.py::test_two - RuntimeError
===== 1 failed, 794 passed, 2 skipped, 1 error in 612.30s (0:10:12) =====
"""


def test_the_summary_line_gives_the_counts() -> None:
    assert summary_counts(OUTPUT) == {"failed": 1, "passed": 794, "skipped": 2, "error": 1}
    quiet = "........ [100%]\n801 passed in 428.77s (0:07:08)\n"  # -q drops the frame
    assert summary_counts(quiet) == {"passed": 801}


def test_failed_and_erroring_tests_are_named() -> None:
    assert failed_tests(OUTPUT) == ["tests/test_a.py::test_one", "tests/test_b.py::test_two"]


def test_a_run_that_collected_no_test_does_not_pass() -> None:
    no_tests = summary_counts("===== no tests ran in 0.01s =====")
    assert not Run(1, 0, no_tests, 0.0, []).passed
    assert not Run(1, 5, no_tests, 0.0, []).passed
    assert Run(1, 0, {"passed": 3}, 0.0, []).passed
    assert not Run(1, 1, {"passed": 3, "failed": 1}, 0.0, []).passed
