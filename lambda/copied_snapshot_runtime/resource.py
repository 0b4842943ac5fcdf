"""crhelper's CfnResource, adjusted where its defaults do not fit a long-running copy, and the one adapter
between crhelper and the handler's functions.

- Each invocation starts from a clean state: crhelper keeps the last event's ids and ResponseURL on this
  object, and an event lacking them must not be answered with another request's. Such an event, or one
  whose ResponseURL is not a URL, is logged (without the URL, a credential) and left unanswered; an unknown
  RequestType is answered FAILED naming the accepted ones.
- The functions take a `request.Request` and return an `outcomes.Outcome`; `_wrap_function` turns it into
  crhelper's physical id, Data, status and polling. An exception becomes a FAILED answer under the id
  `decisions.failure_physical_id` picks: on Create the copy's ARN (the rollback's Delete removes it), on
  Update the unchanged old ARN (the handler discards a failed replacement itself).
- A Lambda timeout answers like a failure, with the copy's ARN from the moment CopyClusterSnapshot answered.
  A poll that runs out of time does not answer: the next poll asks again.
- A poll whose rule or target is already gone (a repeated delivery of a finished request) exits without
  answering; removing a rule or target that is gone is not an error.
- The polling rule stays until the answer is delivered, or until CloudFormation's ServiceTimeout has passed:
  a later poll answers again. A first invocation whose answer was not delivered fails, so that Lambda's
  retries of an asynchronous invocation (two) run it again.
- INFO logging as JSON (crhelper logs whole events, ResponseURL included, at DEBUG); no sleep on Delete.
- Polls once a minute; an outcome that needs no waiting is answered at once. Between firings, the first
  invocation (once its rule is put) and each poll ask again in-process every polling interval, within a
  window that `polling.window_end` closes before the rule's next firing and the invocation's end; an
  answer found there is sent only if the rule still has its target (no other invocation answered).
- Polling rules get names under one prefix that the construct's IAM policy and its one static Lambda
  permission are scoped to, so no per-resource permission statement is ever added to the function.
- Polling events leave the resource properties out, so that they fit EventBridge's 8192-character Input.
- Long reasons keep their beginning (the snapshot and the cause), not crhelper's last 240 characters.
- Responses go through `response.send_response` (bounded retries, 2xx only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from crhelper import log_helper, resource_helper

from copied_snapshot_runtime import cluster_properties, decisions, outcomes, polling, properties, response
from copied_snapshot_runtime.request import MalformedEvent, Request, parse_request, unknown_type_reason

logger = logging.getLogger(__name__)

RULE_NAME_MAX_LENGTH = 64
REASON_MAX_LENGTH = 256
_PROPERTY_KEYS = ("ResourceProperties", "OldResourceProperties")
_RANDOM_SUFFIX_LENGTH = 8
_TARGET_ID = "1"  # crhelper's one target per rule
FAILED = resource_helper.FAILED
TIMED_OUT = "Execution timed out"
# How long before the Lambda's end its timeout answer is sent: one PUT must fit in it.
TIMEOUT_MARGIN_SECONDS = 3.0


def shorten_reason(reason: str) -> str:
    """A reason within what crhelper passes on untouched, cut at its end."""
    if len(reason) <= REASON_MAX_LENGTH:
        return reason
    return reason[: REASON_MAX_LENGTH - 3] + "..."


def poll_rule_name(prefix: str, logical_id: str, suffix: str) -> str:
    room = RULE_NAME_MAX_LENGTH - len(prefix) - len(suffix)
    return f"{prefix}{logical_id[:room]}{suffix}"


def request_suffix(request_id: str) -> str:
    """A rule name's suffix that is the same for every delivery of a request."""
    return hashlib.sha256(request_id.encode()).hexdigest()[:_RANDOM_SUFFIX_LENGTH].upper()


def timeout_after(remaining_seconds: float) -> float:
    """Seconds from the start of an invocation until its timeout answer is sent."""
    return max(0.0, remaining_seconds - min(TIMEOUT_MARGIN_SECONDS, remaining_seconds / 4))


def _not_found(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) == "ResourceNotFoundException"


class AnswerNotDelivered(RuntimeError):
    """A first invocation's answer did not reach CloudFormation and no polling rule will send it again."""


def timed_out_reason(request: Request, started_arn: str | None) -> str:
    """The FAILED reason of an invocation about to time out, naming the construct whose timeout ran out and,
    on an Update, the replacement it started (a copy or a cluster, by the resource type)."""
    clusters = request.resource_type == cluster_properties.RESOURCE_TYPE
    construct, thing = ("RestoredCluster", "cluster") if clusters else ("CopiedSnapshot", "copy")
    reason = TIMED_OUT
    if request.poll:
        reason += f" after the {request.data.get(outcomes.TIMEOUT)} second {construct} timeout"
    if request.request_type == "Create":
        raw = request.properties if isinstance(request.properties, Mapping) else {}
        name = raw.get(cluster_properties.CLUSTER_NAME if clusters else properties.TARGET_SNAPSHOT_NAME)
        made = started_arn or (repr(str(name)[:64]) if name else "")
        reason += f" making {thing} {made}" if made else ""
    if request.request_type == "Delete" and request.physical_id:
        reason += f" deleting {thing} {request.physical_id[:300]}"
    if request.request_type == "Update" and started_arn:
        reason += (
            f"; the replacement {thing} {started_arn} was started and is not this resource's: "
            "delete it once it is ACTIVE"
        )
    return reason


# crhelper has no type information; its CfnResource is typed as Any here.
_CfnResource: Any = resource_helper.CfnResource
Function = Callable[[Request, Any], outcomes.Outcome]


class CopyResource(_CfnResource):  # type: ignore[misc]
    # Set by crhelper for each invocation.
    PhysicalResourceId: Any
    Status: str
    Reason: str
    StackId: str
    RequestId: str
    LogicalResourceId: str
    Data: dict[str, Any]
    _event: dict[str, Any]
    _response_url: str
    _timer: Any
    _context: Any

    def __init__(
        self,
        rule_prefix: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            json_logging=True, log_level="INFO", boto_level="WARNING", polling_interval=1, sleep_on_delete=0
        )
        self._rule_prefix = rule_prefix
        self._clock = clock
        self._sleep = sleep
        # Off: each invocation asks once, as crhelper's polls do (tests of one step at a time).
        self.wait_in_process = True
        self._reset()

    def _reset(self) -> None:
        """Forgets everything of the previous invocation, crhelper's state included."""
        if self._timer:
            self._timer.cancel()
        self._timer = None
        self.Status, self.Reason, self.PhysicalResourceId = "", "", ""
        self.StackId, self.RequestId, self.LogicalResourceId = "", "", ""
        self.Data = {}
        self._event = {}
        self._context = None
        self._response_url = ""
        self._request: Request | None = None
        self._rule_gone = False  # a poll found its rule deleted already
        self._only_if_done = False  # a Delete's poll whose rule is gone answers only SUCCESS
        self._answer_now = False
        self._finishing_poll = False
        self._copy_arn: str | None = None
        self._answer_lost = False
        self._timed_out = False
        self._started_at = 0.0
        self._remaining_at_start = 0.0
        self.asks = 0  # in-process asks of this invocation, for its last log line

    def remember_copy(self, arn: str) -> None:
        """The copy this invocation made: the physical id of a Create's timeout answer."""
        self._copy_arn = arn

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self._reset()
        self._started_at = self._clock()
        self._remaining_at_start = context.get_remaining_time_in_millis() / 1000
        log_helper.setup(
            self._log_level,
            boto_level=self._boto_level,
            RequestType="Unknown",
            aws_request_id=getattr(context, "aws_request_id", ""),
        )
        try:
            request = parse_request(event)
        except MalformedEvent as error:
            logger.error({"message": f"event not answered: {error}"})
            return
        self._request = request
        log_helper.setup(  # crhelper's `_log_setup`, from the checked request (RequestType may be missing)
            self._log_level,
            boto_level=self._boto_level,
            RequestType=request.request_type[:64],
            StackId=request.stack_id,
            RequestId=request.request_id,
            LogicalResourceId=request.logical_id,
            aws_request_id=getattr(context, "aws_request_id", ""),
        )
        if not request.known_type:
            self._answer_unknown_type(request)
            return
        if request.poll and not self._rule_armed(request):
            if request.request_type != "Delete":
                logger.info({"message": "polling rule or target already gone: this request was answered"})
                self._delete_rule_left(request)
                return
            # A Delete's last poll removes its rule before it answers: this may be Lambda running again one
            # that was killed in between. It answers only SUCCESS, and only once the snapshot is gone.
            logger.info({"message": "polling rule or target already gone: answering only if done"})
            self._only_if_done = True
        super().__call__(event, context)
        if self._answer_lost:
            # No polling rule will answer again: Lambda invokes a failed asynchronous invocation again.
            raise AnswerNotDelivered("the answer could not be delivered; failing so that Lambda retries")

    def _answer_unknown_type(self, request: Request) -> None:
        self.StackId, self.RequestId, self.LogicalResourceId = (
            request.stack_id,
            request.request_id,
            request.logical_id,
        )
        self._response_url = request.response_url
        self.PhysicalResourceId = request.physical_id or self.generate_physical_id({})
        self.Status = FAILED
        self.Reason = unknown_type_reason(request)
        logger.error({"message": self.Reason})
        self._send()

    def _rule_armed(self, request: Request) -> bool:
        """Whether the poll's rule still has its target; not knowing (no permission) counts as armed."""
        if not request.rule_arn:
            return False
        try:
            answer = self._events_client.list_targets_by_rule(Rule=request.rule_arn.split("/")[-1])
        except ClientError as error:
            if _not_found(error):
                self._rule_gone = True
                return False
            logger.warning({"message": "could not check the polling rule", "Error": str(error)})
            return True
        return any(target.get("Id") == _TARGET_ID for target in answer.get("Targets", []))

    def _delete_rule_left(self, request: Request) -> None:
        """A rule whose target was removed stays when its invocation ended (was killed) between the two
        steps of the teardown; the next delivery removes it."""
        if self._rule_gone or not request.rule_arn:
            return
        try:
            self._delete_rule(request.rule_arn)
        except ClientError:
            logger.exception({"message": "could not delete the polling rule left without its target"})

    def _poll_enabled(self) -> Any:
        return not self._answer_now and super()._poll_enabled()

    def _wrap_function(self, func: Function) -> None:
        """The one adapter: runs the function on the request and turns its outcome into crhelper's state."""
        request = self._request
        assert request is not None  # set by __call__ before crhelper runs
        self._apply(request, self._run(func, request))

    def _run(self, func: Function, request: Request) -> outcomes.Outcome:
        try:
            outcome = func(request, self._context)
        except Exception as error:
            logger.error(str(error), exc_info=True)
            outcome = outcomes.Failed(str(error))
        if self._only_if_done and not isinstance(outcome, outcomes.Done):
            outcome = outcomes.Waiting()
        return outcome

    def _apply(self, request: Request, outcome: outcomes.Outcome) -> None:
        """Turns an outcome into crhelper's state."""
        if isinstance(outcome, outcomes.Started) and not request.poll:
            self.Data.update(outcome.poll_state())
            raw = request.properties if isinstance(request.properties, Mapping) else {}
            self.Data[outcomes.INTERVAL] = polling.interval_or_default(raw.get(polling.POLLING_INTERVAL))
            self.PhysicalResourceId = outcome.physical_id
        elif isinstance(outcome, (outcomes.Started, outcomes.Waiting)):
            self.PhysicalResourceId = None  # crhelper's sign to keep polling
        elif isinstance(outcome, outcomes.Done):
            self.Data = dict(outcome.attributes)
            self.PhysicalResourceId = outcome.physical_id
            self._answer_now = not request.poll  # a poll answers through `_polling_init`, ending polling
        else:
            self.Status = FAILED
            self.Reason = outcome.reason
            self.PhysicalResourceId = outcome.physical_id or self._failure_id(request)
            self.Data = {}

    def _failure_id(self, request: Request, *, timed_out: bool = False) -> str:
        copy_arn = self._copy_arn or (str(request.data.get(outcomes.SNAPSHOT_ARN) or "") or None)
        if request.poll and copy_arn is None:
            copy_arn = str(request.data.get("PhysicalResourceId") or "") or None
        chosen = decisions.failure_physical_id(request.request_type, request.physical_id, copy_arn)
        if chosen:
            return chosen
        suffix = self._rand_string(_RANDOM_SUFFIX_LENGTH)
        return decisions.made_up_physical_id(
            request.stack_name, request.logical_id, suffix, timed_out=timed_out
        )

    def generate_physical_id(self, event: dict[str, Any]) -> str:
        """crhelper's made-up id (stack name, logical id, random suffix), from the parsed request: never an
        ARN, and safe with any StackId."""
        request = self._request
        assert request is not None
        suffix = self._rand_string(_RANDOM_SUFFIX_LENGTH)
        return decisions.made_up_physical_id(request.stack_name, request.logical_id, suffix)

    def _polling_init(self, event: dict[str, Any]) -> None:
        """crhelper's, but a finished poll answers first and removes its rule only once that is settled, and
        work left under way is asked about again in-process until the window ends."""
        request = self._request
        assert request is not None
        if not request.poll and self.Status != FAILED:
            self.Data["PhysicalResourceId"] = self.PhysicalResourceId
            self._setup_polling()
            self.PhysicalResourceId = None
            # From here on the rule answers if this invocation does not: it is one of the request's polls,
            # whose timeout and lost answer leave the answer to the next firing.
            request = self._request = parse_request(self._event)
            self._wait_in_process(request)
        elif request.poll and not self.PhysicalResourceId and self.Status != FAILED:
            self._wait_in_process(request)
        if self.PhysicalResourceId or self.Status == FAILED:
            self._send_response = True
            self._finishing_poll = request.poll

    def _wait_in_process(self, request: Request) -> None:
        """Asks again every interval until an answer or the window's end; an answer found is applied only
        while the rule still has its target (else another invocation answered, and this one is quiet)."""
        if not self.wait_in_process:
            return
        func: Function = getattr(self, f"_poll_{request.request_type.lower()}_func")
        interval = polling.interval_or_default(request.data.get(outcomes.INTERVAL))
        rule_put_at = request.data.get(outcomes.RULE_PUT_AT)
        end = polling.window_end(
            None if rule_put_at is None else float(rule_put_at), self._started_at, self._remaining_at_start
        )
        last = self._clock()
        while (at := polling.next_ask(last, interval, end)) is not None:
            self._sleep(max(0.0, at - self._clock()))
            last = self._clock()
            outcome = self._run(func, request)
            self.asks += 1
            if isinstance(outcome, (outcomes.Done, outcomes.Failed)):
                # A Delete's poll run again after its rule was removed answers its SUCCESS itself.
                if self._only_if_done or self._rule_armed(request):
                    self._apply(request, outcome)
                else:
                    logger.info({"message": "answered meanwhile by another invocation; not again"})
                return
        logger.info({"message": "poll window ended; the next firing asks again", "Asks": self.asks})

    def _setup_polling(self) -> None:
        """crhelper's, but a rule whose target could not be put is deleted rather than left behind."""
        try:
            super()._setup_polling()
        except Exception:
            rule_arn = self._event.get("CrHelperRule")
            if rule_arn:
                try:
                    self._delete_rule(str(rule_arn))
                except ClientError:
                    logger.exception({"message": "could not delete the polling rule", "Rule": str(rule_arn)})
            raise

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000
        self._timer = threading.Timer(timeout_after(remaining), self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self) -> None:
        """crhelper's answer just before the Lambda's end, carrying the copy this invocation knows of.

        A poll answers only once the deadline has passed (the next poll would fail the same way), and
        past CloudFormation's ServiceTimeout it only removes its rule.
        """
        request = self._request
        if request is None:
            return
        now = self._clock()
        deadline = request.data.get(outcomes.DEADLINE)
        if request.poll and (deadline is None or now <= float(deadline)):
            logger.warning({"message": "poll ran out of time; the next poll asks again"})
            return
        self._timed_out = True  # whatever the invocation still does, it answers nothing more
        if request.poll and now > float(request.data.get(outcomes.ANSWER_BY, now)):
            logger.error({"message": "poll ran out of time and CloudFormation no longer waits; polling ends"})
            self._remove_polling()
            return
        copy_arn = self._copy_arn or (str(request.data.get(outcomes.SNAPSHOT_ARN) or "") or None)
        logger.error({"message": "execution is about to time out, answering FAILED", "SnapshotArn": copy_arn})
        reason = timed_out_reason(request, copy_arn)
        self.PhysicalResourceId = self._failure_id(request, timed_out=True)
        self.Data = {}
        self._finishing_poll = request.poll
        self._send(FAILED, reason, attempts=1, on_timeout=True)

    def _send(
        self,
        status: str | None = None,
        reason: str = "",
        send_response: Any = None,
        attempts: int = 0,
        on_timeout: bool = False,
    ) -> None:
        if self._timed_out and not on_timeout:
            logger.info({"message": "answered at the timeout already; no second answer"})
            return
        # crhelper keeps the last 240 characters of a long reason; the first ones name the snapshot and the
        # cause, so keep those instead.
        self.Reason = shorten_reason(str(self.Reason))
        deliveries: list[response.Delivery] = []

        def deliver(url: str, body: dict[str, Any], ssl_verify: object = None) -> None:
            deliveries.append(response.send_response(url, body, attempts=attempts or response.ATTEMPTS))

        request = self._request
        last_delete = self._finishing_poll and request is not None and request.request_type == "Delete"
        if last_delete:
            # CloudFormation may delete this function and its role right after a Delete's answer (the last
            # resources of a stack go once their dependents are gone): the rule goes first, while it can.
            self._finishing_poll = False
            poll_event = self._poll_input()
            self._remove_polling()
        super()._send(status, shorten_reason(reason), send_response=deliver)
        delivery = deliveries[-1] if deliveries else response.Delivery.UNDELIVERED
        self._answer_lost = bool(request and not request.poll and delivery is response.Delivery.UNDELIVERED)
        if last_delete and delivery is response.Delivery.UNDELIVERED and self._still_waited_for():
            logger.warning(
                {"message": "answer not delivered; the polling rule is put back, the next poll answers"}
            )
            self._arm(poll_event)
        if self._finishing_poll:
            self._finishing_poll = False
            self._end_polling(delivery)

    def _still_waited_for(self) -> bool:
        """Whether CloudFormation still waits for the answer: its ServiceTimeout has not passed."""
        request = self._request
        answer_by = request.data.get(outcomes.ANSWER_BY) if request else None
        return bool(answer_by) and self._clock() < float(str(answer_by))

    def _end_polling(self, delivery: response.Delivery) -> None:
        """Removes the polling rule once the answer is settled; keeps it while CloudFormation waits."""
        if delivery is response.Delivery.UNDELIVERED and self._still_waited_for():
            logger.warning(
                {"message": "answer not delivered; the polling rule stays and the next poll answers"}
            )
            return
        if delivery is response.Delivery.UNDELIVERED:
            logger.error({"message": "answer not delivered and CloudFormation no longer waits; polling ends"})
        self._remove_polling()

    def _put_rule(self) -> str:
        """crhelper's rule, named after the request rather than at random: a first invocation run again (it
        was killed after putting its rule) puts the same rule instead of leaving one behind."""
        request = self._request
        assert request is not None
        name = poll_rule_name(self._rule_prefix, request.logical_id, request_suffix(request.request_id))
        answer = self._events_client.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="ENABLED")
        # Data is the event's CrHelperData, which the target's Input (put next) carries to every poll.
        self.Data[outcomes.RULE_PUT_AT] = self._clock()
        return str(answer["RuleArn"])

    def _put_targets(self, func_name: str) -> None:
        """crhelper's target, but its Input without the resource properties.

        EventBridge takes at most 8192 characters of Input, and the properties (50 long tags) can exceed
        that alone. Polls need only the ids, the ResponseURL and crhelper's Data, which the event keeps.
        """
        self._target(func_name, self._poll_input())

    def _poll_input(self) -> dict[str, Any]:
        """The event a poll gets, as it is now (a copy: crhelper changes its Data as it finishes)."""
        event = {key: value for key, value in self._event.items() if key not in _PROPERTY_KEYS}
        return dict(json.loads(json.dumps(event)))

    def _target(self, func_name: str, poll_event: dict[str, Any]) -> None:
        rule_arn = str(poll_event["CrHelperRule"])
        _, partition, _, region, account = rule_arn.split(":")[:5]
        self._events_client.put_targets(
            Rule=rule_arn.split("/")[1],
            Targets=[
                {
                    "Id": _TARGET_ID,
                    "Arn": f"arn:{partition}:lambda:{region}:{account}:function:{func_name}",
                    "Input": json.dumps(poll_event),
                }
            ],
        )

    def _arm(self, poll_event: dict[str, Any]) -> None:
        """Puts a poll's rule and target back as they were, so that the next poll answers again."""
        try:
            rule_name = str(poll_event["CrHelperRule"]).split("/")[1]
            self._events_client.put_rule(Name=rule_name, ScheduleExpression="rate(1 minute)", State="ENABLED")
            self._target(self._context.function_name, poll_event)
        except ClientError:
            logger.exception({"message": "could not put the polling rule back; the answer is lost"})

    def _remove_targets(self, rule_arn: str) -> None:
        try:
            super()._remove_targets(rule_arn)
        except ClientError as error:
            if not _not_found(error):
                raise
            logger.info({"message": "polling rule already gone"})

    def _delete_rule(self, rule_arn: str) -> None:
        try:
            super()._delete_rule(rule_arn)
        except ClientError as error:
            if not _not_found(error):
                raise

    def _add_permission(self, rule_arn: str) -> str:
        return ""  # the construct grants events.amazonaws.com once, for rules under the prefix

    def _remove_permission(self, sid: str) -> None:
        return None
