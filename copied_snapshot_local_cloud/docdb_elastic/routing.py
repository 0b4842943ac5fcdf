"""Routes from HTTP method and path to an operation, built from the `requestUri` of every modelled operation.

Matching is done on the raw (still percent-encoded) path: ARNs in URI labels contain `/`, which clients send
as `%2F`, and a decoded path could no longer tell the label from the route.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

from copied_snapshot_local_cloud.docdb_elastic.service_model import service_model

_LABEL = re.compile(r"\{(?P<name>[A-Za-z0-9_]+)(?P<greedy>\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Match:
    operation: str
    labels: dict[str, str]


def _pattern(request_uri: str) -> re.Pattern[str]:
    path = request_uri.split("?", 1)[0]
    parts: list[str] = []
    position = 0
    for label in _LABEL.finditer(path):
        parts.append(re.escape(path[position : label.start()]))
        parts.append(f"(?P<{label['name']}>{'.+' if label['greedy'] else '[^/]+'})")
        position = label.end()
    parts.append(re.escape(path[position:]))
    return re.compile("".join(parts))


@functools.cache
def routes() -> tuple[Route, ...]:
    model = service_model()
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        found.append(Route(name, http["method"].upper(), _pattern(http["requestUri"])))
    # Literal routes first, so `/cluster-snapshots` never reads as a label of `/cluster-snapshot/{arn}`.
    return tuple(sorted(found, key=lambda route: route.pattern.pattern.count("(?P<")))


def match(method: str, raw_path: str) -> Match | None:
    """The operation a request is for, with its URI labels decoded; None when no operation has the route."""
    for route in routes():
        if route.method != method.upper():
            continue
        found = route.pattern.fullmatch(raw_path)
        if found:
            return Match(route.operation, {name: unquote(value) for name, value in found.groupdict().items()})
    return None
