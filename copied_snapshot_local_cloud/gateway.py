"""One loopback endpoint for every AWS service, as a tool reaches it through `AWS_ENDPOINT_URL`.

Each request goes where its SigV4 credential scope's service says (the `Authorization` header, or the
`X-Amz-Credential` query parameter of a pre-signed URL): `cloudformation` to the local CloudFormation API,
`docdb-elastic` to the local docdb-elastic service, anything else (S3, STS, SSM, IAM, KMS, ECR, ...) to moto's
server, which routes it by the same scope. Unsigned requests go to moto too.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from moto.iam.models import get_account_id_from
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from copied_snapshot_local_cloud import serving
from copied_snapshot_local_cloud.cloudformation.api import Answer, Caller, CloudFormationApi
from copied_snapshot_local_cloud.docdb_elastic.identity import ACCOUNT_ID, caller_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from copied_snapshot_local_cloud.cloud import LocalCloud

_SCOPE = re.compile(r"(?P<key>[^/\s,=]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
# Headers that describe one connection, not the message: never forwarded (RFC 9110, section 7.6.1).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)

# Headers the gateway's own server writes: forwarding them too would send two (and two Dates, joined, are no
# date: the CDK CLI's SDK corrects its clock skew from it).
_OWN = frozenset({"content-length", "date", "server"})


def scope_service(authorization: str | None, credential: str | None) -> str:
    """The service a request is signed for; "" when it is not signed."""
    return _scope(authorization, credential).get("service", "")


def _scope(authorization: str | None, credential: str | None) -> dict[str, str]:
    match = _SCOPE.search(authorization or "") or _SCOPE.search(credential or "")
    return match.groupdict() if match else {}


def moto_headers(headers: Mapping[str, str], access_key: str) -> dict[str, str]:
    """The headers to forward to moto: a key of 12 digits (the local cloud's way to act as an account) is
    that account for moto too, through moto's `x-moto-account-id` header (moto's documentation,
    "Multi-Account support"); moto knows the keys it made itself (IAM users', STS sessions') on its own."""
    forwarded = dict(headers)
    if ACCOUNT_ID.fullmatch(access_key) and not any(h.lower() == "x-moto-account-id" for h in headers):
        forwarded["x-moto-account-id"] = access_key
    return forwarded


@dataclass(frozen=True)
class Routes:
    """Where the gateway sends requests: the CloudFormation API, and the base URLs of the other servers."""

    cloudformation: CloudFormationApi
    docdb_elastic: str
    other: str
    accounts: Mapping[str, str]  # access key -> account, for keys not of 12 digits
    default_account: str

    def caller(self, authorization: str | None) -> Caller:
        """Who signed a CloudFormation request: a key of the local cloud's, a key of 12 digits, or a key
        moto made (the CDK CLI's calls with the deploy role it assumed through STS)."""
        signed = caller_of(authorization, self.accounts, self.default_account, get_account_id_from)
        return Caller(signed.account, signed.region)


def routes_of(cloud: LocalCloud) -> Routes:
    """The routes to a started local cloud's servers and engine."""

    def read_object(caller: Caller, bucket: str, key: str) -> bytes:
        answer = cloud.client("s3", caller.region, caller.account).get_object(Bucket=bucket, Key=key)
        return bytes(answer["Body"].read())

    api = CloudFormationApi(
        cloud.store,
        cloud.engine,
        cloud.clock.now,
        read_object=read_object,
        code_dir=cloud.state_dir / "function-code",
        busy=cloud.clock.busy,
        settled=cloud.save,
    )
    return Routes(
        cloudformation=api,
        docdb_elastic=cloud.docdb.endpoint_url,
        other=cloud.moto_url,
        accounts=cloud.docdb.service.accounts,
        default_account=cloud.account,
    )


class Gateway(serving.Running):
    def __init__(self, routes: Callable[[], Routes]) -> None:
        """`routes` is asked once the gateway starts (the servers it names are running by then)."""
        self._routes_of = routes
        self._routes: Routes | None = None
        self._server: BaseWSGIServer | None = None
        self.url = ""

    def start(self) -> Gateway:
        self._routes = self._routes_of()
        self._server = serving.serve(self._app, name="gateway")
        self.url = f"http://{serving.LOOPBACK}:{self._server.port}"
        return self

    def stop(self) -> None:
        serving.stop(self._server)
        self._server = None

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert self._routes is not None
        request = Request(environ)
        authorization = request.headers.get("Authorization")
        scope = _scope(authorization, request.args.get("X-Amz-Credential"))
        service = scope.get("service", "")
        if service == "cloudformation":
            answer = self._routes.cloudformation.handle(
                self._routes.caller(authorization), request.get_data()
            )
            response = _response(answer)
        elif service == "docdb-elastic":
            response = _forward(request, self._routes.docdb_elastic, dict(request.headers.items()))
        else:
            headers = moto_headers(dict(request.headers.items()), scope.get("key", ""))
            response = _forward(request, self._routes.other, headers)
        return response(environ, start_response)


def _response(answer: Answer) -> Response:
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def _forward(request: Request, base: str, sent: Mapping[str, str]) -> Response:
    """The answer of the server at `base` to `request` with headers `sent` and the body as it is (Host too:
    the signature covers it)."""
    target = urlsplit(base)
    connection = http.client.HTTPConnection(target.hostname or serving.LOOPBACK, target.port, timeout=300)
    try:
        headers = {name: value for name, value in sent.items() if name.lower() not in _HOP_BY_HOP}
        body = request.get_data()
        headers["Content-Length"] = str(len(body))
        # The path and query as sent (werkzeug's own are decoded, and S3 keys and signatures need them not).
        raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path)
        connection.request(request.method, raw, body=body, headers=headers)
        answer = connection.getresponse()
        content = answer.read()
        response = Response(content, status=answer.status)
        response.headers.clear()
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP | _OWN:
                response.headers.add(name, value)
        response.headers["Content-Length"] = str(len(content))
        return response
    finally:
        connection.close()
