"""A local cloud restarted on the state folder of an earlier run: the services' state is saved with the stacks
and loaded by the next start, and what cannot be recovered is refused at start, naming --fresh."""

from __future__ import annotations

import json

from local_cloud.docdb_elastic.clock import ManualClock
from local_cloud.docdb_elastic.identity import Caller
from local_cloud.docdb_elastic.state import ACTIVE, COPYING, Backend, Durations

ACCOUNT = "123456789012"
REGION = "us-east-1"
CALLER = Caller(ACCOUNT, REGION, ACCOUNT)


def test_the_docdb_elastic_state_survives_json_with_its_work_in_flight_and_its_next_ids() -> None:
    clock = ManualClock()
    before = Backend(clock=clock, durations=Durations(copy=60.0), seed=3)
    source = before.seed_snapshot(account=ACCOUNT, region=REGION, name="source", tags={"team": "orders"})
    copied = before.copy_snapshot(CALLER, source_arn=source.arn, target_name="copy")
    saved = json.loads(json.dumps(before.to_json()))

    after = Backend(clock=clock, durations=Durations(copy=60.0), seed=3)
    after.from_json(saved)
    assert after.state() == before.state()
    assert after.snapshot(CALLER, copied.arn).status(clock.now()) == COPYING
    clock.advance(60.0)
    assert after.snapshot(CALLER, copied.arn).status(clock.now()) == ACTIVE
    # The next resource gets the ARN the saved service would have given it, not one it already gave.
    assert (
        after.copy_snapshot(CALLER, source_arn=source.arn, target_name="again").arn
        == before.copy_snapshot(CALLER, source_arn=source.arn, target_name="again").arn
    )
