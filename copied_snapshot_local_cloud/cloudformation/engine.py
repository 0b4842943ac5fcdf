"""CloudFormation's part: create, update and delete stacks, with rollback, from synthesized templates.

Resources are created once what they depend on exists (DependsOn and references) and deleted once nothing
that depends on them is left, independent ones concurrently, in an order `Order` picks among those the
dependencies allow. Replaced and removed resources are deleted in the cleanup after an update, and a failure
is rolled back: a failed create cancels the custom resources still creating and deletes what it made (a
failed or cancelled resource too, by the physical id it answered or one made up for it); a failed update puts
every changed resource back (custom resources get an Update with old and new swapped) and deletes what it
added. A resource whose Delete failed keeps everything it depends on, so the stack can be destroyed again.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any, TypeVar

from copied_snapshot_local_cloud.assembly import Stack
from copied_snapshot_local_cloud.cloudformation import intrinsics, order
from copied_snapshot_local_cloud.cloudformation.custom import CustomResourceFailed
from copied_snapshot_local_cloud.cloudformation.errors import (
    DeployFailed,
    DeploymentError,
    NotSent,
    ResourceFailed,
    TemplateError,
)
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.providers import (
    Cancellation,
    Change,
    Cloud,
    Outcome,
    Provider,
)
from copied_snapshot_local_cloud.cloudformation.store import ResourceState, StackState, StackStore

__all__ = ["NO_CHANGES", "DeployFailed", "Engine", "StackEvent"]

STACK_TYPE = "AWS::CloudFormation::Stack"
RETAIN = frozenset({"Retain", "RetainExceptOnCreate"})
# A failed create deletes what it made, except resources marked plain Retain (hence RetainExceptOnCreate).
RETAIN_ON_CREATE_ROLLBACK = frozenset({"Retain"})
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"
# The reason of the UPDATE_COMPLETE of a stack in which nothing changed: no resource, output or export (the
# message CloudFormation's UpdateStack answers such an update with, CloudFormation API Reference).
NO_CHANGES = "No updates are to be performed."
_T = TypeVar("_T")


@dataclass(frozen=True)
class StackEvent:
    timestamp: float
    stack: str
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""


@dataclass
class _Deployment:
    """One deployment of a stack: what is deployed, and what each resource depends on."""

    stack: StackState
    artifact: Stack
    wanted: Mapping[str, Any]
    dependencies: dict[str, set[str]]
    scope: intrinsics.Scope


@dataclass
class _Changes:
    """What an update changed so far, for its rollback."""

    changed: list[tuple[str, ResourceState | None]] = field(default_factory=list)  # (logical id, before)
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)  # the properties each update asked for
    replaced: list[ResourceState] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


# Stacks whose resources are in doubt after a failed rollback or delete: only a delete may touch them.
NOT_UPDATABLE = frozenset({"ROLLBACK_FAILED", "DELETE_FAILED"})


class Engine:
    """Deploys and destroys stacks with `providers` (resource type -> provider) and `custom` for custom
    resources, working through each stack's resources in `order`."""

    def __init__(
        self,
        cloud: Cloud,
        store: StackStore,
        *,
        providers: Mapping[str, Provider],
        custom: Provider,
        order: Order | None = None,
        progress: Callable[[StackEvent], None] = lambda event: None,
    ) -> None:
        self._cloud = cloud
        self._store = store
        self._providers = dict(providers)
        self._custom = custom
        self._order = order or Order.parallel()
        self._progress = progress
        self._lock = threading.RLock()  # resources are worked on in threads: one writer of a stack at a time
        self.events: list[StackEvent] = []

    # -- deploy ----------------------------------------------------------------------------------------------

    def deploy(self, artifact: Stack, *, stack_id: str | None = None) -> StackState:
        """Creates or updates the stack; a new stack takes `stack_id` when the API has answered one."""
        template: dict[str, Any] = copy.deepcopy(dict(artifact.template))
        old = self._store.load(artifact.stack_name)
        if old is not None and old.status in NOT_UPDATABLE:
            # As CloudFormation: "Stack ... is in ROLLBACK_FAILED state and can not be updated".
            raise DeployFailed(
                f"{artifact.stack_name}: stack is in {old.status} state and can not be updated; destroy it "
                "(which deletes what is left) and deploy again"
            )
        stack = StackState(
            stack_name=artifact.stack_name,
            stack_id=old.stack_id if old else stack_id or self._stack_id(artifact),
            account=artifact.account,
            region=artifact.region,
            status="CREATE_IN_PROGRESS" if old is None else "UPDATE_IN_PROGRESS",
            template=template,
            resources=copy.deepcopy(old.resources) if old else {},
        )
        self._check_types(artifact.stack_name, template)
        self._emit(stack, artifact.stack_name, STACK_TYPE, stack.status)
        try:
            scope = self._scope(stack, template)
            wanted = {
                logical_id: resource
                for logical_id, resource in template.get("Resources", {}).items()
                if "Condition" not in resource or scope.conditions[resource["Condition"]]
            }
            dependencies = _dependencies(wanted)
        except (DeploymentError, KeyError) as error:
            reason = (
                str(error) if isinstance(error, DeploymentError) else f"condition {error} is not declared"
            )
            self._emit(
                stack,
                artifact.stack_name,
                STACK_TYPE,
                "CREATE_FAILED" if old is None else "UPDATE_FAILED",
                reason,
            )
            raise DeployFailed(f"{artifact.stack_name}: {reason}") from error
        deployment = _Deployment(stack, artifact, wanted, dependencies, scope)
        if old is None:
            return self._create(deployment)
        return self._update(old, deployment)

    def _create(self, deployment: _Deployment) -> StackState:
        stack, artifact, wanted, scope = (
            deployment.stack,
            deployment.artifact,
            deployment.wanted,
            deployment.scope,
        )
        cancel = Cancellation()
        outcome = order.run(
            self._graph(deployment.dependencies, wanted),
            self._order,
            lambda name: self._make(stack, artifact, name, wanted[name], scope, cancel=cancel),
            stop=cancel,
            clock=self._cloud.clock,
        )
        failed: dict[str, Exception] = dict(outcome.failed)
        if not failed:
            try:
                self._finish_outputs(stack, scope)
            except DeploymentError as error:
                failed[stack.stack_name] = error
        if failed:
            first, cause = next(iter(failed.items()))
            self._rollback_create(stack, artifact, list(failed), cause)
            raise DeployFailed(f"{stack.stack_name}: {first} failed to create: {cause}") from cause
        return self._complete(stack, "CREATE_COMPLETE")

    def _make(
        self,
        stack: StackState,
        artifact: Stack,
        logical_id: str,
        definition: Mapping[str, Any],
        scope: intrinsics.Scope,
        *,
        cancel: Cancellation,
    ) -> None:
        def create() -> None:
            properties = intrinsics.resolve(definition.get("Properties", {}), scope)
            change = Change(
                self._cloud,
                stack,
                logical_id,
                definition["Type"],
                properties,
                artifact.assets,
                cancelled=cancel,
            )
            try:
                outcome = self._provider(definition["Type"]).create(change)
            except CustomResourceFailed as error:
                if error.physical_id:  # CloudFormation deletes what the failed resource answered, on rollback
                    self._record(stack, _state(logical_id, definition, error.physical_id, properties, {}))
                raise
            self._record(
                stack, _state(logical_id, definition, outcome.physical_id, properties, outcome.attributes)
            )

        self._step(stack, logical_id, definition["Type"], "CREATE", create)

    def _record(self, stack: StackState, state: ResourceState) -> None:
        with self._lock:
            stack.resources[state.logical_id] = state
            self._store.save(stack)

    def _step(
        self, stack: StackState, logical_id: str, resource_type: str, operation: str, action: Callable[[], _T]
    ) -> _T:
        """One resource operation as CloudFormation reports it: IN_PROGRESS, then COMPLETE or FAILED with the
        reason. Whatever a provider raises fails the resource, not the engine."""
        self._emit(stack, logical_id, resource_type, f"{operation}_IN_PROGRESS")
        try:
            result = action()
        except DeploymentError as error:
            self._emit(stack, logical_id, resource_type, f"{operation}_FAILED", str(error))
            raise
        except Exception as error:  # a client error of a provider, a malformed property
            reason = f"{type(error).__name__}: {error}"
            self._emit(stack, logical_id, resource_type, f"{operation}_FAILED", reason)
            raise ResourceFailed(reason) from error
        self._emit(stack, logical_id, resource_type, f"{operation}_COMPLETE")
        return result

    def _complete(self, stack: StackState, status: str, reason: str = "") -> StackState:
        stack.status = status
        with self._lock:
            self._store.save(stack)
        self._emit(stack, stack.stack_name, STACK_TYPE, status, reason)
        return stack

    def _rollback_create(
        self, stack: StackState, artifact: Stack, failed: list[str], error: Exception
    ) -> None:
        stack.status = "ROLLBACK_IN_PROGRESS"
        self._emit(
            stack,
            stack.stack_name,
            STACK_TYPE,
            stack.status,
            f"The following resource(s) failed to create: [{', '.join(failed)}]. Rollback requested by user.",
        )
        problems = self._delete_all(stack, artifact.assets, retained=RETAIN_ON_CREATE_ROLLBACK)
        stack.status = "ROLLBACK_FAILED" if problems else "ROLLBACK_COMPLETE"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status, "; ".join(problems))
        if problems:
            with self._lock:
                self._store.save(stack)
        else:
            self._store.remove(stack.stack_name)

    def _update(self, old: StackState, deployment: _Deployment) -> StackState:
        stack, artifact, wanted = deployment.stack, deployment.artifact, deployment.wanted
        changes = _Changes()
        stop = Cancellation()
        outcome = order.run(
            self._graph(deployment.dependencies, wanted),
            self._order,
            lambda name: self._update_one(old, deployment, changes, name, stop),
            stop=stop,
            clock=self._cloud.clock,
        )
        changes.failed = dict(outcome.failed)
        if not changes.failed:
            try:
                self._finish_outputs(stack, deployment.scope)
                self._check_exports_in_use(old, stack)
            except DeploymentError as error:
                changes.failed[""] = error
        if changes.failed:
            first, cause = next(iter(changes.failed.items()))
            self._rollback_update(old, deployment, changes, cause)
            raise DeployFailed(
                f"{stack.stack_name}: {first or 'the update'} failed to update: {cause}"
            ) from cause
        removed = [state for name, state in old.resources.items() if name not in wanted]
        if not (changes.changed or removed) and (stack.outputs, stack.exports) == (old.outputs, old.exports):
            return self._complete(stack, "UPDATE_COMPLETE", NO_CHANGES)
        stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status)
        with self._lock:
            for name in (state.logical_id for state in removed):
                stack.resources.pop(name, None)
        self._delete_states(
            stack,
            old.template,
            removed + changes.replaced,
            artifact.assets,
            retain=lambda state: (
                (state.update_replace_policy if state in changes.replaced else state.deletion_policy)
                in RETAIN
            ),
        )
        return self._complete(stack, "UPDATE_COMPLETE")

    def _update_one(
        self,
        old: StackState,
        deployment: _Deployment,
        changes: _Changes,
        logical_id: str,
        stop: Cancellation,
    ) -> None:
        """Creates, updates or leaves one resource of an update, noting what it changed for the rollback."""
        stack, artifact, scope = deployment.stack, deployment.artifact, deployment.scope
        definition = deployment.wanted[logical_id]
        prior = old.resources.get(logical_id)
        if prior is None or prior.type != definition["Type"]:
            self._make(stack, artifact, logical_id, definition, scope, cancel=stop)
            with self._lock:
                changes.changed.append((logical_id, None))
                if prior is not None:
                    changes.replaced.append(prior)
            return
        properties = intrinsics.resolve(definition.get("Properties", {}), scope)
        if properties == prior.properties:
            return
        with self._lock:
            changes.attempts[logical_id] = properties
        outcome_id = self._change(stack, artifact, prior, definition, properties)
        with self._lock:
            changes.changed.append((logical_id, prior))
            if outcome_id != prior.physical_id:
                changes.replaced.append(prior)

    def _change(
        self,
        stack: StackState,
        artifact: Stack,
        prior: ResourceState,
        definition: Mapping[str, Any],
        properties: dict[str, Any],
    ) -> str:
        def update() -> Outcome:
            change = Change(
                self._cloud, stack, prior.logical_id, prior.type, properties, artifact.assets,
                prior.physical_id, prior.properties,
            )  # fmt: skip
            outcome = self._provider(prior.type).update(change)
            if outcome.physical_id != prior.physical_id:
                self._emit(
                    stack, prior.logical_id, prior.type, "UPDATE_IN_PROGRESS",
                    "Requested update requires the creation of a new physical resource; hence creating one.",
                )  # fmt: skip
            self._record(
                stack,
                _state(prior.logical_id, definition, outcome.physical_id, properties, outcome.attributes),
            )
            return outcome

        return self._step(stack, prior.logical_id, prior.type, "UPDATE", update).physical_id

    def _rollback_update(
        self, old: StackState, deployment: _Deployment, changes: _Changes, error: Exception
    ) -> None:
        stack, artifact = deployment.stack, deployment.artifact
        stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        named = ", ".join(name for name in changes.failed if name)
        self._emit(
            stack, stack.stack_name, STACK_TYPE, stack.status,
            f"The following resource(s) failed to update: [{named}]. {error}",
        )  # fmt: skip
        problems: list[str] = []
        # A resource whose update failed is updated back too, unless CloudFormation refused it unsent.
        attempted: list[tuple[str, ResourceState | None]] = [
            (name, old.resources[name])
            for name, failure in changes.failed.items()
            if name in old.resources
            and name not in dict(changes.changed)
            and not isinstance(failure, NotSent)
        ]
        created_again: list[ResourceState] = []
        for logical_id, prior in reversed(changes.changed + attempted):
            now = stack.resources.get(logical_id)
            if prior is None:
                continue  # added by this update: deleted in the cleanup below
            if now is not None and now.physical_id != prior.physical_id:
                created_again.append(now)  # a replacement: the old resource still exists
                continue
            problems += self._restore(
                stack, artifact, prior, changes.attempts.get(logical_id, prior.properties)
            )
        added = [
            stack.resources[name]
            for name, prior in changes.changed
            if prior is None and name in stack.resources
        ]
        failed_new = [
            stack.resources[name]
            for name in changes.failed
            if name not in old.resources and name in stack.resources and name not in dict(changes.changed)
        ]
        stack.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status)
        problems += self._delete_states(
            stack,
            stack.template,
            created_again + added + failed_new,
            artifact.assets,
            retain=lambda state: False,
        )
        old.status = "UPDATE_ROLLBACK_FAILED" if problems else "UPDATE_ROLLBACK_COMPLETE"
        with self._lock:
            self._store.save(old)
        self._emit(old, old.stack_name, STACK_TYPE, old.status, "; ".join(problems))

    def _restore(
        self, stack: StackState, artifact: Stack, prior: ResourceState, attempted: dict[str, Any]
    ) -> list[str]:
        """Puts a resource back as it was before the update (old and new properties swapped)."""
        change = Change(
            self._cloud, stack, prior.logical_id, prior.type, prior.properties, artifact.assets,
            prior.physical_id, attempted,
        )  # fmt: skip
        try:
            self._step(
                stack,
                prior.logical_id,
                prior.type,
                "UPDATE",
                lambda: self._provider(prior.type).update(change),
            )
        except DeploymentError as error:
            return [f"{prior.logical_id}: {error}"]
        return []

    # -- destroy ---------------------------------------------------------------------------------------------

    def destroy(self, stack_name: str) -> bool:
        """Deletes a deployed stack; False when there was none. A stack whose delete failed can be destroyed
        again: what failed, and everything it depends on, is still there."""
        stack = self._store.load(stack_name)
        if stack is None:
            return False
        importers = self._store.importers(stack)
        if importers:
            raise DeployFailed(
                f"{stack_name}: its exports are in use by {', '.join(importers)}; destroy those stacks first"
            )
        stack.status = "DELETE_IN_PROGRESS"
        self._emit(stack, stack_name, STACK_TYPE, stack.status)
        problems = self._delete_all(stack, {}, retained=RETAIN)
        if problems:
            stack.status = "DELETE_FAILED"
            with self._lock:
                self._store.save(stack)
            self._emit(stack, stack_name, STACK_TYPE, stack.status, "; ".join(problems))
            raise DeployFailed(f"{stack_name}: could not delete {'; '.join(problems)}")
        self._store.remove(stack_name)
        stack.status = "DELETE_COMPLETE"
        self._emit(stack, stack_name, STACK_TYPE, stack.status)
        return True

    def _delete_all(
        self, stack: StackState, assets: Mapping[str, Any], *, retained: frozenset[str]
    ) -> list[str]:
        """Deletes every resource of the stack; what is deleted (or retained) leaves the stack's state."""
        return self._delete_states(
            stack,
            stack.template,
            list(stack.resources.values()),
            assets,
            retain=lambda state: state.deletion_policy in retained,
            forget=True,
        )

    def _delete_states(
        self,
        stack: StackState,
        template: Mapping[str, Any],
        states: list[ResourceState],
        assets: Mapping[str, Any],
        *,
        retain: Callable[[ResourceState], bool],
        forget: bool = False,
    ) -> list[str]:
        """Deletes `states`, each once nothing that depends on it in `template` is left; answers the
        problems. A resource whose Delete failed keeps what it depends on."""
        by_name = {state.logical_id: state for state in states}
        declared = _dependencies(template.get("Resources", {}))
        dependencies = {name: declared.get(name, set()) & set(by_name) for name in by_name}

        def delete(name: str) -> None:
            self._delete(stack, by_name[name], assets, retain=retain(by_name[name]))
            if forget:
                with self._lock:
                    stack.resources.pop(name, None)

        outcome = order.run(
            self._graph(
                dependencies, {name: {"Type": state.type} for name, state in by_name.items()}, deleting=True
            ),
            self._order,
            delete,
            stop=threading.Event(),
            clock=self._cloud.clock,
        )
        return [f"{name}: {error}" for name, error in outcome.failed.items()]

    def _delete(
        self, stack: StackState, state: ResourceState, assets: Mapping[str, Any], *, retain: bool
    ) -> None:
        if retain:
            self._emit(stack, state.logical_id, state.type, "DELETE_SKIPPED")
            return
        change = Change(
            self._cloud, stack, state.logical_id, state.type, state.properties, assets, state.physical_id,
        )  # fmt: skip
        self._step(
            stack, state.logical_id, state.type, "DELETE", lambda: self._provider(state.type).delete(change)
        )

    def _graph(
        self, dependencies: Mapping[str, set[str]], resources: Mapping[str, Any], *, deleting: bool = False
    ) -> order.Graph:
        custom = frozenset(name for name, resource in resources.items() if _is_custom(resource["Type"]))
        return order.Graph.of(dependencies, custom=custom, deleting=deleting)

    # -- template evaluation ---------------------------------------------------------------------------------

    def _check_types(self, stack_name: str, template: Mapping[str, Any]) -> None:
        resources = template.get("Resources", {})
        malformed = sorted(
            str(logical_id)
            for logical_id, resource in resources.items()
            if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str)
        )
        if malformed:
            raise DeployFailed(f"{stack_name}: resource {', '.join(malformed)} has no Type")
        unsupported = sorted(
            f"{resource['Type']} ({logical_id})"
            for logical_id, resource in resources.items()
            if not _is_custom(resource["Type"]) and resource["Type"] not in self._providers
        )
        if unsupported:
            raise DeployFailed(
                f"{stack_name}: the local cloud cannot deploy resource type {', '.join(unsupported)}; "
                f"it supports custom resources and {', '.join(sorted(self._providers))}"
            )

    def _provider(self, resource_type: str) -> Provider:
        return self._custom if _is_custom(resource_type) else self._providers[resource_type]

    def _scope(self, stack: StackState, template: Mapping[str, Any]) -> intrinsics.Scope:
        pseudo = {
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.stack_name,
            "AWS::StackId": stack.stack_id,
            "AWS::NotificationARNs": [],
        }

        def ref(logical_id: str) -> Any:
            state = stack.resources.get(logical_id)
            if state is None:
                raise TemplateError(f"Ref to {logical_id}, which is not a resource made yet")
            return state.physical_id

        def get_att(logical_id: str, attribute: str) -> Any:
            state = stack.resources.get(logical_id)
            if state is None or attribute not in state.attributes:
                raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such attribute")
            return state.attributes[attribute]

        def import_value(name: str) -> Any:
            found = self._store.export(stack.account, stack.region, name)
            if found is None:
                raise TemplateError(f"No export named {name} found")
            with self._lock:
                if name not in stack.imports:
                    stack.imports.append(name)
            return found[1]

        parameters = self._parameters(stack, template)
        scope = intrinsics.Scope(pseudo, parameters, {}, ref, get_att, import_value)
        conditions = intrinsics.evaluate_conditions(template.get("Conditions", {}), scope)
        scope = intrinsics.Scope(pseudo, parameters, conditions, ref, get_att, import_value)
        self._check_rules(template, scope)
        return scope

    def _parameters(self, stack: StackState, template: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, declaration in template.get("Parameters", {}).items():
            if "Default" not in declaration:
                raise DeployFailed(f"parameter {name} has no Default; the local cloud deploys with defaults")
            value = declaration["Default"]
            if str(declaration.get("Type", "")).startswith(SSM_PARAMETER_TYPE):
                ssm = self._cloud.client("ssm", stack.region, stack.account)
                try:
                    value = ssm.get_parameter(Name=value)["Parameter"]["Value"]
                except ssm.exceptions.ParameterNotFound:
                    raise DeployFailed(f"parameter {name}: SSM parameter {value} does not exist") from None
            values[name] = value
        return values

    def _check_rules(self, template: Mapping[str, Any], scope: intrinsics.Scope) -> None:
        for name, rule in template.get("Rules", {}).items():
            if "RuleCondition" in rule and not intrinsics.condition(rule["RuleCondition"], scope):
                continue
            for assertion in rule.get("Assertions", []):
                if not intrinsics.condition(assertion["Assert"], scope):
                    raise DeployFailed(
                        f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}"
                    )

    def _finish_outputs(self, stack: StackState, scope: intrinsics.Scope) -> None:
        stack.outputs, stack.exports = {}, {}
        for name, output in stack.template.get("Outputs", {}).items():
            if "Condition" in output and not scope.conditions[output["Condition"]]:
                continue
            value = intrinsics.resolve(output["Value"], scope)
            stack.outputs[name] = value
            if "Export" in output:
                export = str(intrinsics.resolve(output["Export"]["Name"], scope))
                holder = self._store.export(stack.account, stack.region, export)
                if holder is not None and holder[0] != stack.stack_name:
                    raise DeployFailed(f"export {export} is already exported by stack {holder[0]}")
                stack.exports[export] = value

    def _check_exports_in_use(self, old: StackState, stack: StackState) -> None:
        gone = set(old.exports) - set(stack.exports)
        changed = {
            name for name in old.exports if name in stack.exports and old.exports[name] != stack.exports[name]
        }
        for other in self._store.all():
            if other.stack_name == stack.stack_name:
                continue
            used = (gone | changed) & set(other.imports)
            if used:
                raise DeployFailed(
                    f"cannot {'delete' if used & gone else 'update'} export {', '.join(sorted(used))} "
                    "as it is "
                    f"in use by {other.stack_name}"
                )

    def _stack_id(self, artifact: Stack) -> str:
        where = f"{artifact.region}:{artifact.account}"
        return f"arn:aws:cloudformation:{where}:stack/{artifact.stack_name}/{uuid.uuid4()}"

    def _emit(
        self, stack: StackState, logical_id: str, resource_type: str, status: str, reason: str = ""
    ) -> None:
        now = self._cloud.clock.now()
        event = StackEvent(now, stack.stack_name, logical_id, resource_type, status, reason)
        with self._lock:
            self.events.append(event)
            self._progress(event)


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def _state(
    logical_id: str,
    definition: Mapping[str, Any],
    physical_id: str,
    properties: dict[str, Any],
    attributes: dict[str, Any],
) -> ResourceState:
    return ResourceState(
        logical_id=logical_id,
        type=definition["Type"],
        physical_id=physical_id,
        properties=properties,
        attributes=attributes,
        deletion_policy=str(definition.get("DeletionPolicy", "Delete")),
        update_replace_policy=str(definition.get("UpdateReplacePolicy", "Delete")),
    )


def _dependencies(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """What each resource depends on (DependsOn, Ref, Fn::GetAtt, Fn::Sub); a cycle fails the deployment."""
    found = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = {depends} if isinstance(depends, str) else set(depends)
        found[logical_id] = (depends | intrinsics.references(resource.get("Properties", {}))) & set(resources)
    try:
        TopologicalSorter(found).prepare()
    except CycleError as error:
        raise DeployFailed(f"circular dependency between resources: {error.args[1]}") from error
    return found
