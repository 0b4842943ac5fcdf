"""One event, read once into a typed, frozen request that the create/update/delete/poll functions take.

crhelper keeps an event's ids and ResponseURL on its shared object between invocations; an event that lacks
one of them must never be answered with another request's. Such an event cannot be answered at all: the
function logs why (without the URL, which is a credential) and returns.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUEST_TYPES = ("Create", "Update", "Delete")
# What an answer is addressed with: without all of them, an event cannot be answered.
ANSWER_FIELDS = ("StackId", "RequestId", "LogicalResourceId", "ResponseURL")
# Keys crhelper adds to the event it stores as the polling rule's target Input.
POLL_FLAG = "CrHelperPoll"
POLL_DATA = "CrHelperData"
POLL_RULE = "CrHelperRule"
_URL_SCHEMES = ("https", "http")


class MalformedEvent(ValueError):
    """The event cannot be answered; the message never holds the ResponseURL."""


@dataclass(frozen=True)
class Request:
    request_type: str  # may be outside REQUEST_TYPES: then answered FAILED, see `known_type`
    stack_id: str
    request_id: str
    logical_id: str
    response_url: str = field(repr=False)
    physical_id: str | None = None
    properties: object = None  # as sent: `properties.parse_properties` checks its shape
    old_properties: object = None
    poll: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)  # what the first invocation kept for its polls
    rule_arn: str | None = None
    resource_type: str = ""  # polls keep it: only the properties are left out of their events

    @property
    def known_type(self) -> bool:
        return self.request_type in REQUEST_TYPES

    @property
    def stack_name(self) -> str:
        parts = self.stack_id.split("/")
        return parts[1] if len(parts) > 2 else self.stack_id


def usable_url(url: str) -> bool:
    """Whether `url` can be PUT to: an http(s) URL with a host and no whitespace or control characters."""
    if any(character.isspace() or not character.isprintable() for character in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in _URL_SCHEMES and bool(parts.hostname)


def _frozen(value: object) -> object:
    return types.MappingProxyType(dict(value)) if isinstance(value, Mapping) else value


def parse_request(event: object) -> Request:
    """The request an event makes; raises MalformedEvent when it cannot be answered."""
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"the event is a {type(event).__name__}, not a map")
    missing = [name for name in ANSWER_FIELDS if not isinstance(event.get(name), str) or not event.get(name)]
    if missing:
        raise MalformedEvent(f"the event lacks {', '.join(missing)}")
    if not usable_url(str(event["ResponseURL"])):
        raise MalformedEvent("the event's ResponseURL is not an http(s) URL")
    physical_id = event.get("PhysicalResourceId")
    data = event.get(POLL_DATA)
    rule = event.get(POLL_RULE)
    return Request(
        request_type=str(event.get("RequestType", "")),
        stack_id=str(event["StackId"]),
        request_id=str(event["RequestId"]),
        logical_id=str(event["LogicalResourceId"]),
        response_url=str(event["ResponseURL"]),
        physical_id=physical_id if isinstance(physical_id, str) else None,
        properties=_frozen(event.get("ResourceProperties")),
        old_properties=_frozen(event.get("OldResourceProperties")),
        poll=POLL_FLAG in event,
        data=types.MappingProxyType(dict(data)) if isinstance(data, Mapping) else types.MappingProxyType({}),
        rule_arn=rule if isinstance(rule, str) else None,
        resource_type=str(event.get("ResourceType") or ""),
    )


def unknown_type_reason(request: Request) -> str:
    return f"unknown RequestType {request.request_type[:64]!r}; accepted are {', '.join(REQUEST_TYPES)}"
