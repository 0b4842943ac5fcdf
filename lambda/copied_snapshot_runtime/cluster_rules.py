"""The API's rules for a cluster restored from a snapshot, shared by the construct and the handler.

botocore's model of docdb-elastic types RestoreClusterFromSnapshot's members (integers, lists of strings) and
says which are required, but it constrains none of them by length, range or enum: those rules are written in
its documentation strings, and are written down here with where they come from.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import botocore.session

from copied_snapshot_runtime import rules
from copied_snapshot_runtime.rules import RuleViolation

RESTORE_OPERATION = "RestoreClusterFromSnapshot"
# Model docs of CreateCluster and UpdateCluster `shardCapacity`: "Allowed values are 2, 4, 8, 16, 32, 64."
SHARD_CAPACITIES = (2, 4, 8, 16, 32, 64)
# Model docs of `shardInstanceCount`: "A value of 1 means there is one writer instance, and any additional
# instances are replicas". The maximum is assumed (the model states none): 16.
MIN_SHARD_INSTANCE_COUNT = 1
MAX_SHARD_INSTANCE_COUNT = 16
# Assumed (the model states no rule for subnetIds): an elastic cluster is spread over at least two
# Availability Zones, as DocumentDB's subnet groups are.
MIN_AVAILABILITY_ZONES = 2


@functools.cache
def required_request_members() -> tuple[str, ...]:
    """The members RestoreClusterFromSnapshot requires, as botocore's model of the service says."""
    model = botocore.session.get_session().get_service_model(rules.SERVICE)
    shape = model.operation_model(RESTORE_OPERATION).input_shape
    return tuple(shape.required_members) if shape is not None else ()


def cluster_name_problems(name: str) -> list[str]:
    """Every reason `name` cannot be a cluster name; empty when it can.

    The model docs of CreateCluster `clusterName` give the same rules as for snapshot names (1 to 63
    letters, digits or hyphens, a letter first, no trailing hyphen, no `--`); the name is stored lowercase.
    """
    return rules.name_problems(name)


def check_cluster_name(name: str) -> None:
    problems = cluster_name_problems(name)
    if problems:
        raise RuleViolation(f"invalid cluster name {name!r}: {'; '.join(problems)}")


def shard_capacity_problems(capacity: object) -> list[str]:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity not in SHARD_CAPACITIES:
        allowed = ", ".join(str(value) for value in SHARD_CAPACITIES)
        return [f"shard capacity must be one of {allowed} (vCPUs per shard), got {capacity!r}"]
    return []


def shard_instance_count_problems(count: object) -> list[str]:
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not MIN_SHARD_INSTANCE_COUNT <= count <= MAX_SHARD_INSTANCE_COUNT
    ):
        return [
            f"shard instance count must be a whole number from {MIN_SHARD_INSTANCE_COUNT} (a writer only) "
            f"to {MAX_SHARD_INSTANCE_COUNT}, got {count!r}"
        ]
    return []


def subnet_problems(subnet_ids: Sequence[str], availability_zones: Sequence[str] | None) -> list[str]:
    """What is wrong with the subnets a cluster is placed in; `availability_zones` None when not known."""
    if not subnet_ids:
        return ["no subnets are selected: a cluster needs subnets in at least two Availability Zones"]
    problems: list[str] = []
    if len(set(subnet_ids)) != len(subnet_ids):
        problems.append("a subnet is given twice")
    if availability_zones is not None and len(set(availability_zones)) < MIN_AVAILABILITY_ZONES:
        zones = ", ".join(sorted(set(availability_zones)))
        problems.append(
            f"the subnets are in {len(set(availability_zones))} Availability Zone(s) ({zones}): a cluster "
            f"needs subnets in at least {MIN_AVAILABILITY_ZONES}"
        )
    return problems


def check(problems: list[str], what: str) -> None:
    """Raises one RuleViolation naming `what` and every problem found."""
    if problems:
        raise RuleViolation(f"invalid {what}: {'; '.join(problems)}")
