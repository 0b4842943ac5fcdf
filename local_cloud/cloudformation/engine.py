"""CloudFormation's part: create, update and delete stacks, with rollback, from synthesized templates.

The order is CloudFormation's: resources after what they depend on (DependsOn and references), deletion in
reverse, replaced and removed resources deleted in the cleanup after an update, and a failure rolled back:
a failed create deletes what it made (the failed resource too, when it answered a physical id); a failed
update puts every changed resource back (custom resources get an Update with old and new swapped) and deletes
what it added.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from local_cloud.assembly import Stack
from local_cloud.cloudformation import intrinsics
from local_cloud.cloudformation.custom import CustomResource, CustomResourceFailed
from local_cloud.cloudformation.providers import PROVIDERS, Change, Cloud, Provider, ResourceFailed
from local_cloud.cloudformation.store import ResourceState, StackState, StackStore

STACK_TYPE = "AWS::CloudFormation::Stack"
RETAIN = frozenset({"Retain", "RetainExceptOnCreate"})
# A failed create deletes what it made, except resources marked plain Retain (hence RetainExceptOnCreate).
RETAIN_ON_CREATE_ROLLBACK = frozenset({"Retain"})
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"


class DeployFailed(RuntimeError):
    """A stack could not be deployed or destroyed; the message is CloudFormation's status reason."""


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
    """One deployment of a stack: what is deployed, and in which order."""

    stack: StackState
    artifact: Stack
    wanted: Mapping[str, Any]
    order: list[str]
    scope: intrinsics.Scope


@dataclass
class _Changes:
    """What an update changed so far, for its rollback."""

    changed: list[tuple[str, ResourceState | None]]  # (logical id, its state before), in order
    attempts: dict[str, dict[str, Any]]  # the properties each update asked for
    failed: str = ""


class Engine:
    def __init__(
        self,
        cloud: Cloud,
        store: StackStore,
        custom: CustomResource,
        progress: Callable[[StackEvent], None] = lambda event: None,
    ) -> None:
        self._cloud = cloud
        self._store = store
        self._custom = custom
        self._progress = progress
        self.events: list[StackEvent] = []

    # -- deploy ----------------------------------------------------------------------------------------------

    def deploy(self, artifact: Stack) -> StackState:
        template: dict[str, Any] = copy.deepcopy(dict(artifact.template))
        self._check_types(artifact.stack_name, template)
        old = self._store.load(artifact.stack_name)
        stack = StackState(
            stack_name=artifact.stack_name,
            stack_id=old.stack_id if old else self._stack_id(artifact),
            account=artifact.account,
            region=artifact.region,
            status="CREATE_IN_PROGRESS" if old is None else "UPDATE_IN_PROGRESS",
            template=template,
            resources=copy.deepcopy(old.resources) if old else {},
        )
        self._emit(stack, artifact.stack_name, STACK_TYPE, stack.status)
        try:
            scope = self._scope(stack, template)
        except (intrinsics.TemplateError, DeployFailed) as error:
            self._emit(
                stack,
                artifact.stack_name,
                STACK_TYPE,
                "CREATE_FAILED" if old is None else "UPDATE_FAILED",
                str(error),
            )
            raise DeployFailed(f"{artifact.stack_name}: {error}") from error
        wanted = {
            logical_id: resource
            for logical_id, resource in template.get("Resources", {}).items()
            if "Condition" not in resource or scope.conditions[resource["Condition"]]
        }
        deployment = _Deployment(stack, artifact, wanted, _order(wanted), scope)
        if old is None:
            return self._create(deployment)
        return self._update(old, deployment)

    def _create(self, deployment: _Deployment) -> StackState:
        stack, artifact, wanted, order, scope = (
            deployment.stack, deployment.artifact, deployment.wanted, deployment.order, deployment.scope,
        )  # fmt: skip
        made: list[str] = []
        try:
            for logical_id in order:
                self._make(stack, artifact, logical_id, wanted[logical_id], scope)
                made.append(logical_id)
            self._finish_outputs(stack, scope)
        except (ResourceFailed, intrinsics.TemplateError, DeployFailed) as error:
            failed = next((name for name in order if name not in made), stack.stack_name)
            self._rollback_create(stack, artifact, failed, error)
            raise DeployFailed(f"{stack.stack_name}: {failed} failed to create: {error}") from error
        return self._complete(stack, "CREATE_COMPLETE")

    def _make(
        self,
        stack: StackState,
        artifact: Stack,
        logical_id: str,
        definition: Mapping[str, Any],
        scope: intrinsics.Scope,
    ) -> None:
        resource_type = definition["Type"]
        self._emit(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
        try:
            properties = intrinsics.resolve(definition.get("Properties", {}), scope)
            outcome = self._provider(resource_type).create(
                Change(self._cloud, stack, logical_id, resource_type, properties, artifact.assets)
            )
        except CustomResourceFailed as error:
            if error.physical_id:  # CloudFormation deletes what the failed resource answered, on rollback
                stack.resources[logical_id] = _state(
                    logical_id, definition, error.physical_id, properties, {}
                )
            self._emit(stack, logical_id, resource_type, "CREATE_FAILED", str(error))
            raise
        except (ResourceFailed, intrinsics.TemplateError) as error:
            self._emit(stack, logical_id, resource_type, "CREATE_FAILED", str(error))
            raise
        except Exception as error:  # a client error of a provider: the resource failed, not the engine
            self._emit(stack, logical_id, resource_type, "CREATE_FAILED", f"{type(error).__name__}: {error}")
            raise ResourceFailed(f"{type(error).__name__}: {error}") from error
        stack.resources[logical_id] = _state(
            logical_id, definition, outcome.physical_id, properties, outcome.attributes
        )
        self._store.save(stack)
        self._emit(stack, logical_id, resource_type, "CREATE_COMPLETE")

    def _complete(self, stack: StackState, status: str) -> StackState:
        stack.status = status
        self._store.save(stack)
        self._emit(stack, stack.stack_name, STACK_TYPE, status)
        return stack

    def _rollback_create(self, stack: StackState, artifact: Stack, failed: str, error: Exception) -> None:
        stack.status = "ROLLBACK_IN_PROGRESS"
        self._emit(
            stack,
            stack.stack_name,
            STACK_TYPE,
            stack.status,
            f"The following resource(s) failed to create: [{failed}]. Rollback requested by user.",
        )
        problems = self._delete_all(stack, artifact.assets, retained=RETAIN_ON_CREATE_ROLLBACK)
        stack.status = "ROLLBACK_FAILED" if problems else "ROLLBACK_COMPLETE"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status, "; ".join(problems))
        if problems:
            self._store.save(stack)
        else:
            self._store.remove(stack.stack_name)

    def _update(self, old: StackState, deployment: _Deployment) -> StackState:
        stack, artifact, wanted, order, scope = (
            deployment.stack, deployment.artifact, deployment.wanted, deployment.order, deployment.scope,
        )  # fmt: skip
        changes = _Changes([], {})
        changed, attempts = changes.changed, changes.attempts
        replaced: list[ResourceState] = []
        try:
            for logical_id in order:
                changes.failed = logical_id
                definition = wanted[logical_id]
                prior = old.resources.get(logical_id)
                if prior is None or prior.type != definition["Type"]:
                    self._make(stack, artifact, logical_id, definition, scope)
                    changed.append((logical_id, None))
                    if prior is not None:
                        replaced.append(prior)
                    continue
                properties = intrinsics.resolve(definition.get("Properties", {}), scope)
                if properties == prior.properties:
                    continue
                attempts[logical_id] = properties
                outcome_id = self._change(stack, artifact, prior, definition, properties)
                changed.append((logical_id, prior))
                if outcome_id != prior.physical_id:
                    replaced.append(prior)
            changes.failed = ""
            self._finish_outputs(stack, scope)
            self._check_exports_in_use(old, stack)
        except (ResourceFailed, intrinsics.TemplateError, DeployFailed) as error:
            self._rollback_update(old, deployment, changes, error)
            failed = changes.failed or "the update"
            raise DeployFailed(f"{stack.stack_name}: {failed} failed to update: {error}") from error
        stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status)
        removed = [state for name, state in old.resources.items() if name not in wanted]
        for name in (state.logical_id for state in removed):
            stack.resources.pop(name, None)
        for state in reversed(_order_states(old, removed + replaced)):
            policy = state.update_replace_policy if state in replaced else state.deletion_policy
            self._delete(stack, state, artifact.assets, retain=policy in RETAIN)
        return self._complete(stack, "UPDATE_COMPLETE")

    def _change(
        self,
        stack: StackState,
        artifact: Stack,
        prior: ResourceState,
        definition: Mapping[str, Any],
        properties: dict[str, Any],
    ) -> str:
        self._emit(stack, prior.logical_id, prior.type, "UPDATE_IN_PROGRESS")
        change = Change(
            self._cloud, stack, prior.logical_id, prior.type, properties, artifact.assets,
            prior.physical_id, prior.properties,
        )  # fmt: skip
        try:
            outcome = self._provider(prior.type).update(change)
        except ResourceFailed as error:
            self._emit(stack, prior.logical_id, prior.type, "UPDATE_FAILED", str(error))
            raise
        except Exception as error:
            self._emit(
                stack, prior.logical_id, prior.type, "UPDATE_FAILED", f"{type(error).__name__}: {error}"
            )
            raise ResourceFailed(f"{type(error).__name__}: {error}") from error
        if outcome.physical_id != prior.physical_id:
            self._emit(
                stack, prior.logical_id, prior.type, "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
            )  # fmt: skip
        stack.resources[prior.logical_id] = _state(
            prior.logical_id, definition, outcome.physical_id, properties, outcome.attributes
        )
        self._store.save(stack)
        self._emit(stack, prior.logical_id, prior.type, "UPDATE_COMPLETE")
        return outcome.physical_id

    def _rollback_update(
        self, old: StackState, deployment: _Deployment, changes: _Changes, error: Exception
    ) -> None:
        stack, artifact = deployment.stack, deployment.artifact
        changed, attempts, failed = changes.changed, changes.attempts, changes.failed
        stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self._emit(
            stack, stack.stack_name, STACK_TYPE, stack.status,
            f"The following resource(s) failed to update: [{failed}]. {error}",
        )  # fmt: skip
        problems: list[str] = []
        failed_prior = old.resources.get(failed)
        attempted: list[tuple[str, ResourceState | None]] = (
            [(failed, failed_prior)] if failed_prior is not None and failed not in dict(changed) else []
        )
        created_again: list[ResourceState] = []
        for logical_id, prior in reversed(changed + attempted):
            now = stack.resources.get(logical_id)
            if prior is None:
                continue  # added by this update: deleted in the cleanup below
            if now is not None and now.physical_id != prior.physical_id:
                created_again.append(now)  # a replacement: the old resource still exists
                continue
            problems += self._restore(stack, artifact, prior, attempts.get(logical_id, prior.properties))
        added = [
            stack.resources[name] for name, prior in changed if prior is None and name in stack.resources
        ]
        failed_new = stack.resources.get(failed) if failed_prior is None else None
        stack.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        self._emit(stack, stack.stack_name, STACK_TYPE, stack.status)
        for state in reversed(created_again + added + ([failed_new] if failed_new else [])):
            problems += self._delete(stack, state, artifact.assets, retain=False)
        old.status = "UPDATE_ROLLBACK_FAILED" if problems else "UPDATE_ROLLBACK_COMPLETE"
        self._store.save(old)
        self._emit(old, old.stack_name, STACK_TYPE, old.status, "; ".join(problems))

    def _restore(
        self, stack: StackState, artifact: Stack, prior: ResourceState, attempted: dict[str, Any]
    ) -> list[str]:
        """Puts a resource back as it was before the update (old and new properties swapped)."""
        self._emit(stack, prior.logical_id, prior.type, "UPDATE_IN_PROGRESS")
        change = Change(
            self._cloud, stack, prior.logical_id, prior.type, prior.properties, artifact.assets,
            prior.physical_id, attempted,
        )  # fmt: skip
        try:
            self._provider(prior.type).update(change)
        except Exception as error:
            self._emit(stack, prior.logical_id, prior.type, "UPDATE_FAILED", str(error))
            return [f"{prior.logical_id}: {error}"]
        self._emit(stack, prior.logical_id, prior.type, "UPDATE_COMPLETE")
        return []

    # -- destroy ---------------------------------------------------------------------------------------------

    def destroy(self, stack_name: str) -> bool:
        """Deletes a deployed stack; False when there was none."""
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
        problems: list[str] = []
        for state in reversed(_order_states(stack, list(stack.resources.values()))):
            failed = self._delete(stack, state, assets, retain=state.deletion_policy in retained)
            if not failed:
                stack.resources.pop(state.logical_id, None)
            problems += failed
        return problems

    def _delete(
        self, stack: StackState, state: ResourceState, assets: Mapping[str, Any], *, retain: bool
    ) -> list[str]:
        if retain:
            self._emit(stack, state.logical_id, state.type, "DELETE_SKIPPED")
            return []
        self._emit(stack, state.logical_id, state.type, "DELETE_IN_PROGRESS")
        change = Change(
            self._cloud, stack, state.logical_id, state.type, state.properties, assets, state.physical_id,
        )  # fmt: skip
        try:
            self._provider(state.type).delete(change)
        except Exception as error:
            self._emit(stack, state.logical_id, state.type, "DELETE_FAILED", str(error))
            return [f"{state.logical_id}: {error}"]
        self._emit(stack, state.logical_id, state.type, "DELETE_COMPLETE")
        return []

    # -- template evaluation ---------------------------------------------------------------------------------

    def _check_types(self, stack_name: str, template: Mapping[str, Any]) -> None:
        unsupported = sorted(
            f"{resource['Type']} ({logical_id})"
            for logical_id, resource in template.get("Resources", {}).items()
            if not _is_custom(resource["Type"]) and resource["Type"] not in PROVIDERS
        )
        if unsupported:
            raise DeployFailed(
                f"{stack_name}: the local cloud cannot deploy resource type {', '.join(unsupported)}; "
                f"it supports custom resources and {', '.join(sorted(PROVIDERS))}"
            )

    def _provider(self, resource_type: str) -> Provider:
        return self._custom if _is_custom(resource_type) else PROVIDERS[resource_type]

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
                raise intrinsics.TemplateError(f"Ref to {logical_id}, which is not a resource made yet")
            return state.physical_id

        def get_att(logical_id: str, attribute: str) -> Any:
            state = stack.resources.get(logical_id)
            if state is None or attribute not in state.attributes:
                raise intrinsics.TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such attribute")
            return state.attributes[attribute]

        def import_value(name: str) -> Any:
            found = self._store.export(stack.account, stack.region, name)
            if found is None:
                raise intrinsics.TemplateError(f"No export named {name} found")
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
                ssm = self._cloud.client("ssm", stack.region)
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
        event = StackEvent(time.time(), stack.stack_name, logical_id, resource_type, status, reason)
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
    found = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = {depends} if isinstance(depends, str) else set(depends)
        found[logical_id] = (depends | intrinsics.references(resource.get("Properties", {}))) & set(resources)
    return found


def _order(resources: Mapping[str, Any]) -> list[str]:
    """Resources after everything they depend on."""
    try:
        return list(TopologicalSorter(_dependencies(resources)).static_order())
    except CycleError as error:
        raise DeployFailed(f"circular dependency between resources: {error.args[1]}") from error


def _order_states(stack: StackState, states: list[ResourceState]) -> list[ResourceState]:
    """States in the order of the stack's template (dependencies first), for deleting in reverse."""
    order = _order(stack.template.get("Resources", {}))
    position = {logical_id: index for index, logical_id in enumerate(order)}
    return sorted(states, key=lambda state: position.get(state.logical_id, len(position)))
