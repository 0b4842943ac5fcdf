"""The running local cloud's control API, so that deploy and destroy can be separate commands.

`python -m copied_snapshot_local_cloud serve` keeps the cloud (and the services' state) alive; `deploy` and
`destroy` send it an assembly and `seed` source snapshot ARNs, and print the progress it streams back (stack
events, heartbeats, deployment times), ending with `OK` or `FAILED <reason>`.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from copied_snapshot_local_cloud import serving
from copied_snapshot_local_cloud.cloud import LocalCloud
from copied_snapshot_local_cloud.cloudformation.errors import DeploymentError
from copied_snapshot_local_cloud.progress import Progress, outputs_lines

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ENDPOINTS_FILE = "endpoints.json"
DONE = "OK"
FAILED = "FAILED"


# What each action's JSON body holds: (key, required, "str" or "list of str").
_BODIES: dict[tuple[str, str], tuple[tuple[str, bool, str], ...]] = {
    ("POST", "/deploy"): (("assembly", True, "str"), ("stacks", False, "list")),
    ("POST", "/destroy"): (("assembly", True, "str"), ("stacks", False, "list")),
    ("POST", "/seed"): (("snapshots", True, "list"),),
}


def body_problem(action: tuple[str, str], body: object) -> str | None:
    """What is wrong with a request's body, or None: checked before anything is done with it."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for key, required, shape in _BODIES.get(action, ()):
        value = body.get(key)
        if value is None:
            if required:
                return f"the body needs {key!r}"
        elif shape == "str" and not isinstance(value, str):
            return f"{key!r} must be a string"
        elif shape == "list" and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            return f"{key!r} must be a list of strings"
    return None


class ControlServer:
    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._busy = threading.Lock()  # one deployment at a time, as CloudFormation does per stack
        self._server: BaseWSGIServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{serving.LOOPBACK}:{self._server.port}"

    def start(self) -> None:
        self._server = serving.serve(self._app, name="local-cloud-control")
        endpoints = {
            "control": self.url,
            "docdb-elastic": self._cloud.docdb.endpoint_url,
            "moto": self._cloud.moto_url,
        }
        if self._cloud.gateway is not None:
            endpoints["gateway"] = self._cloud.gateway_url
        (self._cloud.state_dir / ENDPOINTS_FILE).write_text(json.dumps(endpoints, indent=1))

    def stop(self) -> None:
        (self._cloud.state_dir / ENDPOINTS_FILE).unlink(missing_ok=True)
        serving.stop(self._server)

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            body: dict[str, Any] = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None  # type: ignore[assignment]
        problem = body_problem((request.method, request.path), body) if body is not None else "not JSON"
        if problem:
            response = Response(f"{FAILED} {problem}\n", status=400)
        elif (request.method, request.path) == ("POST", "/deploy"):
            response = self._stream(lambda: self._deploy(body))
        elif (request.method, request.path) == ("POST", "/destroy"):
            response = self._stream(lambda: self._destroy(body))
        elif (request.method, request.path) == ("POST", "/seed"):
            response = self._stream(lambda: self._seed(body))
        elif (request.method, request.path) == ("GET", "/report"):
            response = Response(json.dumps(self._cloud.report().as_dict()), content_type="application/json")
        else:
            response = Response(f"no action {request.method} {request.path}\n", status=404)
        return response(environ, start_response)

    def _deploy(self, body: dict[str, Any]) -> list[str]:
        stacks = self._cloud.deploy(Path(body["assembly"]), body.get("stacks"))
        return [line for stack in stacks for line in outputs_lines(stack)]

    def _destroy(self, body: dict[str, Any]) -> list[str]:
        destroyed = self._cloud.destroy(Path(body["assembly"]), body.get("stacks"))
        return [f" ✅  {name}: destroyed" for name in destroyed] or ["no stack of this assembly is deployed"]

    def _seed(self, body: dict[str, Any]) -> list[str]:
        return [
            f"seeded source snapshot {self._cloud.seed_source_snapshot(arn)}" for arn in body["snapshots"]
        ]

    def _stream(self, action: Callable[[], list[str]]) -> Response:
        lines: queue.Queue[str | None] = queue.Queue()

        def run() -> None:
            with (
                self._busy,
                Progress(lines.put, self._cloud.clock, requests=self._cloud.custom.waiting_for) as progress,
            ):
                unwatch = self._cloud.watch(progress)
                try:
                    for line in action():
                        lines.put(line)
                    lines.put(DONE)
                except DeploymentError as error:
                    lines.put(f"{FAILED} {error}")
                finally:
                    unwatch()
            lines.put(None)

        threading.Thread(target=run, daemon=True).start()

        def stream() -> Iterator[bytes]:
            while (line := lines.get()) is not None:
                yield (line + "\n").encode()

        return Response(stream(), content_type="text/plain; charset=utf-8")


def serving_endpoint(state_dir: Path, name: str) -> str:
    """The URL of endpoint `name` ("control", "gateway") of the cloud serving `state_dir`."""
    endpoints_file = state_dir / ENDPOINTS_FILE
    endpoints: dict[str, str] = json.loads(endpoints_file.read_text()) if endpoints_file.is_file() else {}
    if name not in endpoints:
        raise RuntimeError(
            f"no local cloud is serving {state_dir}: start one with "
            f"`python -m copied_snapshot_local_cloud serve --state-dir {state_dir}`"
        )
    return endpoints[name]


def send(state_dir: Path, action: str, body: dict[str, Any], write: Callable[[str], None] = print) -> bool:
    """Asks the cloud serving `state_dir` to deploy or destroy; prints what it streams; True on success."""
    url = serving_endpoint(state_dir, "control")
    request = urllib.request.Request(f"{url}/{action}", data=json.dumps(body).encode(), method="POST")  # noqa: S310
    succeeded = False
    with urllib.request.urlopen(request) as answer:  # noqa: S310 - loopback, a URL this package wrote
        for raw in answer:
            line = raw.decode().rstrip("\n")
            succeeded = line == DONE
            write(line)
    return succeeded
