"""Serving a WSGI app on loopback in a background thread: one way for the local docdb-elastic service and
every server of the local cloud (which imports it as `copied_snapshot_local_cloud.serving`). It needs only
werkzeug."""

from __future__ import annotations

import abc
import faulthandler
import signal
import ssl
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

LOOPBACK = "127.0.0.1"
# A short poll interval makes stopping quick; an idle server costs nothing either way.
POLL_SECONDS = 0.05
# How often a waiting main thread wakes to run a signal's handler (see `wait_awake`).
SIGNAL_CHECK_SECONDS = 0.5
# Wall-clock seconds a serving command may take to stop once told to (it takes a few at most).
STOP_SECONDS = 20.0


class Running(abc.ABC):
    """Something that starts and stops, usable as `with Thing(...) as thing:`."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class QuietHandler(WSGIRequestHandler):
    """Requests are recorded where they matter (call logs, stack events); printing each would drown output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def serve(
    app: WSGIApplication,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    name: str = "local-server",
) -> BaseWSGIServer:
    """A threaded werkzeug server for `app`, already serving (port 0 picks a free port)."""
    server = make_server(
        host, port, app, threaded=True, request_handler=QuietHandler, ssl_context=ssl_context
    )
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), name=name, daemon=True).start()
    return server


def stop(server: BaseWSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def stop_on_signals() -> threading.Event:
    """An event that SIGINT or SIGTERM sets, for a command that serves until told to stop. Install it before
    announcing the server, so that a signal arriving at any moment after stops it cleanly."""
    stopped = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, frame: stopped.set())
    return stopped


def wait_awake(event: threading.Event, timeout: float | None = None) -> bool:
    """`event.wait(timeout)` in slices. A signal the kernel hands to another thread runs its Python handler
    only when the main thread next runs Python code (Python's `signal` documentation, "Signals and
    threads"), which one long wait may not do until it ends."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = SIGNAL_CHECK_SECONDS if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return event.is_set()
        if event.wait(min(SIGNAL_CHECK_SECONDS, remaining)):
            return True


def until_stopped(stopped: threading.Event, *, stop_within: float = STOP_SECONDS) -> None:
    """Waits for `stopped` (awake to signals), then watches the stop: for a command's process only, as it
    never disarms. A stop that takes longer than `stop_within` seconds prints every thread's stack to stderr
    and ends the process with status 1: a stop that hangs says where, instead of hanging."""
    wait_awake(stopped)
    faulthandler.dump_traceback_later(stop_within, exit=True)
