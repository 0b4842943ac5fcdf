"""The WSGI application: one request through routing, identity, faults, validation, state and back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.model import OperationModel
from werkzeug.wrappers import Request, Response

from copied_snapshot_local_cloud.docdb_elastic import (
    control,
    errors,
    identity,
    operations,
    routing,
    service_model,
    wire,
)
from copied_snapshot_local_cloud.docdb_elastic.calls import OK, Call, CallLog
from copied_snapshot_local_cloud.docdb_elastic.state import Backend

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)


class DocDBElasticService:
    def __init__(
        self,
        backend: Backend,
        *,
        calls: CallLog | None = None,
        accounts: Mapping[str, str] | None = None,
        default_account: str = identity.DEFAULT_ACCOUNT,
    ) -> None:
        self.backend = backend
        self.calls = calls or CallLog()
        self.accounts = dict(accounts or {})
        self.default_account = default_account

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(control.PREFIX):
            response = control.handle(self, request)
        else:
            response = self.answer(request, _raw_path(environ))
        return response(environ, start_response)

    def answer(self, request: Request, raw_path: str) -> Response:
        matched = routing.match(request.method, raw_path)
        if matched is None:
            self._log(
                "Unknown", {"method": request.method, "path": request.path}, None, 404, "UnknownOperation"
            )
            return wire.unknown_operation(request.method, request.path)
        arguments: dict[str, Any] = {}
        caller: identity.Caller | None = None
        try:
            caller = identity.caller_of(
                request.headers.get("Authorization"), self.accounts, self.default_account
            )
            model = service_model.operation_model(matched.operation)
            params = wire.parse_request(
                model, matched.labels, request.args, request.headers, request.get_data(cache=False)
            )
            if model.input_shape is not None:
                arguments = service_model.redacted(model.input_shape, params)
            response = self._perform(model, caller, params)
            outcome = OK
        except errors.ServiceError as error:
            response, outcome = wire.error_response(error), error.code
        except Exception as error:
            logger.exception("the local docdb-elastic service failed on %s", matched.operation)
            failure = errors.internal(f"the local service failed: {type(error).__name__}: {error}")
            response, outcome = wire.error_response(failure), failure.code
        self._log(matched.operation, arguments, caller, response.status_code, outcome)
        return response

    def _perform(self, model: OperationModel, caller: identity.Caller, params: dict[str, Any]) -> Response:
        operation = model.name
        verdict = self.backend.faults.check(operation, self.backend.clock.now())
        if verdict.delay:
            time.sleep(verdict.delay)
        if verdict.error is not None:
            raise verdict.error
        implementation = operations.SUPPORTED.get(operation)
        if implementation is None:
            raise errors.validation(
                f"{operation} is not supported by the local docdb-elastic service; it supports "
                + ", ".join(sorted(operations.SUPPORTED)),
                reason="unknownOperation",
            )
        if model.input_shape is not None:
            found = list(service_model.problems(model.input_shape, params))
            if found:
                raise errors.validation(
                    service_model.validation_message(found),
                    reason="fieldValidationFailed",
                    fields=[{"name": problem.name, "message": problem.message} for problem in found],
                )
        return wire.result_response(model, implementation(self.backend, caller, params))

    def _log(
        self,
        operation: str,
        arguments: dict[str, Any],
        caller: identity.Caller | None,
        status: int,
        outcome: str,
    ) -> None:
        self.calls.append(
            Call(
                operation=operation,
                arguments=arguments,
                timestamp=self.backend.clock.now(),
                outcome=outcome,
                status=status,
                account=caller.account if caller else None,
                region=caller.region if caller else None,
            )
        )


def _raw_path(environ: WSGIEnvironment) -> str:
    """The path as the client sent it, percent-encoding intact (werkzeug's server keeps it in RAW_URI)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    return quote(str(environ.get("PATH_INFO", "")), safe="/")
