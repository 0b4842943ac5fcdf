"""The custom resources' ResponseURL: HTTPS on loopback with a throwaway certificate authority.

CloudFormation hands each custom resource event a pre-signed S3 URL to PUT its answer to. Here the URL is
served locally over TLS, signed with a one-time secret in its query string, and the handler's process trusts
the throwaway CA through `SSL_CERT_FILE`, so the response travels the way it does in AWS: HTTPS, verified.
"""

from __future__ import annotations

import json
import random
import secrets
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trustme
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from copied_snapshot_local_cloud import serving
from copied_snapshot_local_cloud.clock import Clock, ScaledClock

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class ResponseFaults:
    """A ResponseURL as unreliable as any HTTP endpoint, seeded: each answer is refused with an HTTP 5xx with
    probability `error_probability`, and every answer is refused during the `outages` (start, end) spans, in
    seconds on the endpoint's clock after it started. A refused answer is not recorded: the handler must send
    it again (S3's pre-signed PUT is assumed to fail this way during an S3 outage)."""

    error_probability: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    seed: int = 0


def refusal(faults: ResponseFaults, rng: random.Random, elapsed: float) -> int | None:
    """The HTTP status refusing an answer `elapsed` seconds after the start, or None to accept it."""
    if any(start <= elapsed < end for start, end in faults.outages):
        return 503
    if faults.error_probability and rng.random() < faults.error_probability:
        return rng.choice((500, 503))
    return None


@dataclass
class _Pending:
    secret: str
    received: threading.Event = field(default_factory=threading.Event)
    body: dict[str, Any] | None = None
    received_at: float = 0.0
    abandoned: bool = False  # CloudFormation stopped waiting; an answer is still accepted, as S3 would


class ResponseEndpoint:
    def __init__(
        self, directory: Path, *, clock: Clock | None = None, faults: ResponseFaults | None = None
    ) -> None:
        """`clock`: the local cloud's, in whose seconds waits time out, answers are stamped and outages are
        measured; `faults`: refusals and outages to inject."""
        self._clock = clock or ScaledClock()
        self.faults = faults or ResponseFaults()
        self._rng = random.Random(self.faults.seed)
        self._started = self._clock.now()
        self.refused = 0
        self._authority = trustme.CA()
        self.ca_file = directory / "response-ca.pem"
        directory.mkdir(parents=True, exist_ok=True)
        self._authority.cert_pem.write_to_path(str(self.ca_file))
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._server: BaseWSGIServer | None = None

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._authority.issue_cert(serving.LOOPBACK, "localhost").configure_cert(context)
        self._started = self._clock.now()
        self._server = serving.serve(self._app, ssl_context=context, name="local-response-url")

    def stop(self) -> None:
        serving.stop(self._server)
        self._server = None

    def url_for(self, request_id: str) -> str:
        """A one-time pre-signed URL for the answer to request `request_id`."""
        assert self._server is not None, "the response endpoint is not running"
        secret = secrets.token_hex(16)
        with self._lock:
            self._pending[request_id] = _Pending(secret)
        return (
            f"https://{serving.LOOPBACK}:{self._server.port}/cloudformation-custom-resource-response/{request_id}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature={secret}"
        )

    def wait(self, request_id: str, timeout: float) -> tuple[dict[str, Any], float] | None:
        """The response body and when it arrived, or None when none came within `timeout` simulated seconds
        or the wait was abandoned."""
        with self._lock:
            pending = self._pending[request_id]
        if not self._clock.wait(pending.received, timeout) or pending.abandoned:
            return None
        assert pending.body is not None
        return pending.body, pending.received_at

    def abandon(self, request_id: str) -> None:
        """Ends the wait for `request_id` with no answer (an answer put later is accepted and unused)."""
        with self._lock:
            pending = self._pending[request_id]
            pending.abandoned = True
        pending.received.set()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            pending = self._pending.get(request_id)
        if request.method != "PUT" or pending is None:
            response = Response("NoSuchKey", status=404)
        elif not secrets.compare_digest(request.args.get("X-Amz-Signature", ""), pending.secret):
            response = Response("SignatureDoesNotMatch", status=403)
        elif pending.body is not None:
            response = Response("already answered", status=409)
        elif (status := self._refusal()) is not None:
            response = Response("injected fault: the answer was not stored", status=status)
        else:
            response = self._accept(request, pending)
        return response(environ, start_response)

    def _refusal(self) -> int | None:
        with self._lock:
            status = refusal(self.faults, self._rng, self._clock.now() - self._started)
            if status is not None:
                self.refused += 1
        return status

    def _accept(self, request: Request, pending: _Pending) -> Response:
        data = request.get_data()
        if len(data) > MAX_RESPONSE_BYTES:
            body: dict[str, Any] = {
                "Status": "FAILED",
                "Reason": f"Response object is too long ({len(data)} bytes; at most {MAX_RESPONSE_BYTES})",
            }
        else:
            try:
                body = json.loads(data)
            except ValueError:
                return Response("the response is not JSON", status=400)
        pending.body, pending.received_at = body, self._clock.now()
        pending.received.set()
        return Response("", status=200)
