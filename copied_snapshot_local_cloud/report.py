"""What a local cloud run did: custom resource timelines, API call counts, Lambda invocations."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copied_snapshot_local_cloud.cloud import LocalCloud


@dataclass(frozen=True)
class ResourceTimeline:
    stack: str
    logical_id: str
    request_type: str
    status: str
    physical_id: str
    event_sent: float
    copy_active: float | None  # when the copy this request made became ACTIVE
    response_received: float | None
    copy_gone: float | None = None  # for a Delete: when the snapshot it deleted was gone

    @property
    def seconds(self) -> float | None:
        return None if self.response_received is None else self.response_received - self.event_sent


@dataclass(frozen=True)
class Report:
    timelines: list[ResourceTimeline]
    api_calls: dict[str, int]
    invocations: list[dict[str, Any]]

    @staticmethod
    def of(cloud: LocalCloud) -> Report:
        backend = cloud.docdb.backend
        timelines = [
            ResourceTimeline(
                stack=timeline.stack,
                logical_id=timeline.logical_id,
                request_type=timeline.request_type,
                status=timeline.status,
                physical_id=timeline.physical_id,
                event_sent=timeline.sent,
                copy_active=_made_by(timeline.sent, backend.settles_at(timeline.physical_id)),
                response_received=timeline.answered,
                copy_gone=(
                    backend.gone_at(timeline.sent_physical_id) if timeline.request_type == "Delete" else None
                ),
            )
            for timeline in cloud.custom.timelines
        ]
        invocations = [
            {**asdict(record), "duration": record.duration} for record in list(cloud.runner.invocations)
        ]
        return Report(timelines, cloud.docdb.calls.counts(), invocations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customResources": [{**asdict(item), "seconds": item.seconds} for item in self.timelines],
            "docdbElasticCalls": self.api_calls,
            "lambdaInvocations": self.invocations,
        }

    def text(self) -> str:
        lines = ["Custom resources (event sent -> copy ACTIVE, or gone for a Delete -> response received):"]
        for item in self.timelines:
            settled = item.copy_gone if item.request_type == "Delete" else item.copy_active
            active = f"{settled - item.event_sent:6.2f}s" if settled else "     -"
            answered = f"{item.seconds:6.2f}s" if item.seconds is not None else "no response"
            settles = "gone" if item.request_type == "Delete" else "active"
            lines.append(
                f"  {item.stack}/{item.logical_id} {item.request_type:<6} {item.status:<8} "
                f"{settles} +{active} answered +{answered}"
            )
        calls = ", ".join(f"{name} {count}" for name, count in sorted(self.api_calls.items()))
        lines.append(f"docdb-elastic calls: {calls or 'none'}")
        durations = [entry["duration"] for entry in self.invocations if entry["ended"]]
        if durations:
            lines.append(
                f"Lambda invocations: {len(durations)} (median {statistics.median(durations) * 1000:.0f} ms, "
                f"max {max(durations) * 1000:.0f} ms)"
            )
        return "\n".join(lines)


def _made_by(sent: float, settled: float | None) -> float | None:
    """When a copy settled, if the request sent at `sent` made it (a tag update reuses an older copy)."""
    return settled if settled is not None and settled >= sent else None
