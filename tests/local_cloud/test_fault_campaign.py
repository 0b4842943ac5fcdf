"""The fault campaign (`bench/fault_campaign.py`) in short: one seed of the real thing, and its judging.

The seed below injects every kind of fault the campaign knows, including a copy ending in a failure status
and one stalled beyond its timeout, so the handler's rollbacks, replacements and deletions all run under
throttling, internal errors, killed workers, Lambda timeouts, repeated deliveries and ResponseURL outages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fault_campaign
from bench.fault_campaign import Plan, Row, judge_answers
from copied_snapshot_local_cloud.cloudformation.custom import Timeline

SEED = 18  # fails campaign-keyed, stalls campaign-kept, the ResponseURL is away from 595 to 635 s


def test_the_seed_injects_every_kind_of_fault() -> None:
    plan = Plan.of(SEED)
    assert plan.failing_copy and plan.stalled_copy
    assert plan.delivery.duplicates > 0 and plan.response_faults.outages
    assert plan.delivery.faults.worker_crash > 0 and plan.delivery.faults.lambda_timeout > 0
    assert Plan.of(SEED) == plan  # seeded: the same faults every run


@pytest.mark.slow
def test_one_seed_deploys_updates_and_destroys_with_nothing_lost(tmp_path: Path) -> None:
    assemblies = [fault_campaign.synthesize(tmp_path, generation) for generation in (1, 2)]
    row = fault_campaign.run_seed(SEED, assemblies, tmp_path / "cloud")
    assert row.leaks() == 0, "\n".join(row.findings)
    # Work was done: at least the first stack's three Creates and their Deletes. How far the seed gets past
    # them depends on where wall-clock faults (killed workers, cut invocations) land, which load moves.
    assert row.requests >= 6
    assert row.failed_steps, "the injected copy failure fails a step"
    assert sum(row.met.values()) >= 5, row.met  # the faults were really met


def failed(logical_id: str, reason: str, physical_id: str = "") -> Timeline:
    timeline = Timeline("CampaignMore", logical_id, "Create", 0.0)
    timeline.status, timeline.reason, timeline.physical_id = "FAILED", reason, physical_id
    return timeline


def test_a_failed_answer_is_false_unless_a_fatal_fault_explains_it() -> None:
    plan = Plan.of(SEED)
    arn = "arn:aws:docdb-elastic:us-east-1:123456789012:cluster-snapshot/abc"
    row = Row(SEED)
    judge_answers(
        [
            failed("Keyed8E80E2FB", f"copy {arn} ended in status INACCESSIBLE_ENCRYPTION_CREDS", arn),
            failed("Second1234ABCD", "copy campaign-second: Rate exceeded (ThrottlingException)"),
            failed("Kept99887766", "Execution timed out after the 1200 second CopiedSnapshot timeout"),
        ],
        plan,
        row,
    )
    assert (row.requests, row.false_failed, row.bad_reasons) == (3, 1, 1)
    assert any("Rate exceeded" in finding for finding in row.findings)
    assert any("reason names no snapshot: Kept99887766" in finding for finding in row.findings)


def test_a_request_never_answered_is_counted() -> None:
    timeline = Timeline("CampaignCopies", "Tagged1", "Delete", 0.0)
    timeline.status = "TIMED_OUT"
    row = Row(1)
    judge_answers([timeline], Plan.of(1), row)
    assert (row.unanswered, row.leaks()) == (1, 1)


def test_the_table_has_a_row_per_seed_and_totals() -> None:
    rows = [Row(1, requests=10, met={"crashed": 2}), Row(2, requests=12, orphans=1, met={"crashed": 1})]
    lines = fault_campaign.table(rows).splitlines()
    assert len(lines) == 5
    assert lines[-1] == "| total | 22 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 3 | 0 | 0 | 0 | 0 |"
