"""The service's state: clusters and snapshots per account and region, and the rules they live by.

Statuses move with the clock rather than with background threads: a snapshot or cluster knows when its work
settles and what it settles into, and every read sees the status of that moment. One lock guards everything,
so concurrent clients see the service's rules (unique names, quotas) hold.

The rules are re-implemented here from the service's documentation on purpose, not imported from the
handler's `copied_snapshot_runtime`: a stand-in that shared the handler's code would agree with its bugs.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from copied_snapshot_local_cloud.docdb_elastic import errors
from copied_snapshot_local_cloud.docdb_elastic.clock import Clock, SystemClock, iso
from copied_snapshot_local_cloud.docdb_elastic.faults import Faults
from copied_snapshot_local_cloud.docdb_elastic.identity import PARTITION_REGIONS, Caller, partition_of
from copied_snapshot_local_cloud.docdb_elastic.service_model import service_model

ACTIVE = "ACTIVE"
CREATING = "CREATING"
COPYING = "COPYING"
DELETING = "DELETING"
UPDATING = "UPDATING"
MANUAL = "MANUAL"
AUTOMATED = "AUTOMATED"
# The model bounds how many tag keys one call may remove; AWS resources hold at most as many tags.
MAX_TAGS = int(service_model().shape_for("TagKeyList").metadata["max"])
DEFAULT_SNAPSHOT_QUOTA = 100
ENDPOINT_DOMAIN = "docdb-elastic.amazonaws.com"
# Assumed: clients reach an elastic cluster on MongoDB's default port. The API's Cluster shape has no port
# member, so only the state dump shows it.
PORT = 27017
# Shard rules as the model docs of CreateCluster and UpdateCluster state them ("Allowed values are 2, 4, 8,
# 16, 32, 64"; "Maximum is 32"); the model does not express them. Assumed: at least one shard, and 1-16
# instances a shard (the docs give no bounds for shardInstanceCount).
SHARD_CAPACITIES = (2, 4, 8, 16, 32, 64)
MAX_SHARD_COUNT = 32
MAX_SHARD_INSTANCE_COUNT = 16
# Assumed: what a cluster created without these members has (the model docs give no defaults).
DEFAULT_SHARD_INSTANCE_COUNT = 1
DEFAULT_BACKUP_RETENTION_DAYS = 1
DEFAULT_BACKUP_WINDOW = "07:00-07:30"
DEFAULT_MAINTENANCE_WINDOW = "sun:03:00-sun:03:30"

# Snapshot and cluster names, as the API documentation states them: 1-63 letters, digits or hyphens, a
# letter first, no trailing hyphen and no two hyphens in a row. The model only bounds the length.
# Every rule matches the whole value (`fullmatch`: `$` would also match before a final newline).
_NAME = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")
_ARN = re.compile(
    rf"arn:(?P<partition>{'|'.join(map(re.escape, PARTITION_REGIONS))}):docdb-elastic:"
    r"(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<kind>cluster|cluster-snapshot)/(?P<id>[A-Za-z0-9-]+)"
)
# The namespace of the ids of the account's default keys (any fixed UUID: it only makes them deterministic).
_DEFAULT_KEY_NAMESPACE = uuid.UUID("8f1d7c52-3c1e-4b6e-9a43-0d6c2f5e7a10")


@dataclass(frozen=True)
class Durations:
    """Seconds each piece of work takes; zero settles at once."""

    cluster: float = 0.0
    snapshot: float = 0.0
    copy: float = 0.0
    delete: float = 0.0
    restore: float = 0.0
    update: float = 0.0


@dataclass(frozen=True)
class ClusterChanges:
    """What UpdateCluster may change on a cluster (model of UpdateCluster); None leaves a value as it is.
    The admin password and the client token are accepted by the operation but not kept."""

    auth_type: str | None = None
    backup_retention_period: int | None = None
    preferred_backup_window: str | None = None
    preferred_maintenance_window: str | None = None
    shard_capacity: int | None = None
    shard_count: int | None = None
    shard_instance_count: int | None = None
    subnet_ids: list[str] | None = None
    vpc_security_group_ids: list[str] | None = None


@dataclass(frozen=True)
class ParsedArn:
    account: str
    region: str
    kind: str
    resource_id: str
    partition: str


def parse_arn(arn: str) -> ParsedArn | None:
    """The parts of a docdb-elastic cluster or snapshot ARN; None for anything else, including a value with a
    trailing newline and a partition AWS does not have."""
    found = _ARN.fullmatch(arn)
    if found is None:
        return None
    return ParsedArn(found["account"], found["region"], found["kind"], found["id"], found["partition"])


def default_key_arn(account: str, region: str) -> str:
    """The account's default KMS key in a region, which encrypts what is created without a key (model docs
    of CreateCluster's `kmsKeyId`: "Your account has a different default encryption key for each Amazon
    Region"). Assumed: the service reports it as a key ARN; its key id here is derived from account and
    region, so it is the same on every run."""
    key_id = uuid.uuid5(_DEFAULT_KEY_NAMESPACE, f"{account}:{region}")
    return f"arn:{partition_of(region)}:kms:{region}:{account}:key/{key_id}"


def settled_status(
    working_status: str, settles_at: float | None, final_status: str, gone_at: float | None, now: float
) -> str:
    """A resource's status at `now`: DELETING once deletion started, its working status (CREATING, COPYING,
    UPDATING) until its work settles (never, when `settles_at` is None), then the status it settles into."""
    if gone_at is not None:
        return DELETING
    if settles_at is None or now < settles_at:
        return working_status
    return final_status


@dataclass
class Cluster:
    arn: str
    name: str
    account: str
    region: str
    sequence: int
    created_at: float
    kms_key_id: str
    admin_user_name: str
    auth_type: str
    shard_capacity: int
    shard_count: int
    shard_instance_count: int
    subnet_ids: list[str]
    vpc_security_group_ids: list[str]
    preferred_maintenance_window: str
    working_status: str  # CREATING or UPDATING until the work settles
    settles_at: float | None  # None: never
    final_status: str = ACTIVE
    backup_retention_period: int = DEFAULT_BACKUP_RETENTION_DAYS
    preferred_backup_window: str = DEFAULT_BACKUP_WINDOW
    tags: dict[str, str] = field(default_factory=dict)
    gone_at: float | None = None  # set when deletion starts

    def status(self, now: float) -> str:
        return settled_status(self.working_status, self.settles_at, self.final_status, self.gone_at, now)

    @property
    def endpoint(self) -> str:
        """Assumed format (no document states it): `<name>-<account>.<region>.docdb-elastic.amazonaws.com`."""
        return f"{self.name}-{self.account}.{self.region}.{ENDPOINT_DOMAIN}"

    def view(self, now: float) -> dict[str, Any]:
        return {
            "adminUserName": self.admin_user_name,
            "authType": self.auth_type,
            "backupRetentionPeriod": self.backup_retention_period,
            "clusterArn": self.arn,
            "clusterEndpoint": self.endpoint,
            "clusterName": self.name,
            "createTime": iso(self.created_at),
            "kmsKeyId": self.kms_key_id,
            "preferredBackupWindow": self.preferred_backup_window,
            "preferredMaintenanceWindow": self.preferred_maintenance_window,
            "shardCapacity": self.shard_capacity,
            "shardCount": self.shard_count,
            "shardInstanceCount": self.shard_instance_count,
            "status": self.status(now),
            "subnetIds": list(self.subnet_ids),
            "vpcSecurityGroupIds": list(self.vpc_security_group_ids),
        }

    def summary(self, now: float) -> dict[str, Any]:
        return {"clusterArn": self.arn, "clusterName": self.name, "status": self.status(now)}


@dataclass
class Snapshot:
    arn: str
    name: str
    account: str
    region: str
    sequence: int
    cluster_arn: str
    cluster_created_at: float
    admin_user_name: str
    kms_key_id: str  # always a key: elastic cluster snapshots are always encrypted
    snapshot_type: str
    created_at: float
    working_status: str  # CREATING or COPYING until the work settles
    settles_at: float | None  # None: never
    final_status: str
    subnet_ids: list[str]
    vpc_security_group_ids: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    gone_at: float | None = None  # set when deletion starts
    # What a cluster restored from it gets unless the restore says otherwise: its source cluster's settings.
    auth_type: str = "PLAIN_TEXT"
    shard_capacity: int = SHARD_CAPACITIES[0]
    shard_count: int = 1
    shard_instance_count: int = DEFAULT_SHARD_INSTANCE_COUNT

    def status(self, now: float) -> str:
        return settled_status(self.working_status, self.settles_at, self.final_status, self.gone_at, now)

    def view(self, now: float) -> dict[str, Any]:
        return {
            "adminUserName": self.admin_user_name,
            "clusterArn": self.cluster_arn,
            "clusterCreationTime": iso(self.cluster_created_at),
            "kmsKeyId": self.kms_key_id,
            "snapshotArn": self.arn,
            "snapshotCreationTime": iso(self.created_at),
            "snapshotName": self.name,
            "snapshotType": self.snapshot_type,
            "status": self.status(now),
            "subnetIds": list(self.subnet_ids),
            "vpcSecurityGroupIds": list(self.vpc_security_group_ids),
        }

    def summary(self, now: float) -> dict[str, Any]:
        return {
            "clusterArn": self.cluster_arn,
            "snapshotArn": self.arn,
            "snapshotCreationTime": iso(self.created_at),
            "snapshotName": self.name,
            "status": self.status(now),
        }


class Backend:
    """All accounts and regions of the emulated service."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        durations: Durations | None = None,
        snapshot_quota: int = DEFAULT_SNAPSHOT_QUOTA,
        seed: int = 0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.faults = faults or Faults(seed)
        self.durations = durations or Durations()
        self.snapshot_quota = snapshot_quota
        self._lock = threading.RLock()
        self._ids = random.Random(seed)
        self._sequence = 0
        self._clusters: dict[str, Cluster] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._settle_times: dict[str, float | None] = {}  # kept after deletion, for reports
        self._gone_times: dict[str, float] = {}  # when a deleted snapshot was (or will be) gone, for reports

    # -- configuration -------------------------------------------------------------------------------------

    def configure(
        self, *, durations: Mapping[str, float] | None = None, snapshot_quota: int | None = None
    ) -> None:
        with self._lock:
            if durations:
                unknown = set(durations) - set(vars(Durations()))
                if unknown or any(value < 0 for value in durations.values()):
                    raise ValueError(
                        f"durations are non-negative seconds for {sorted(vars(Durations()))}, "
                        f"got {dict(durations)}"
                    )
                self.durations = replace(self.durations, **durations)
            if snapshot_quota is not None:
                if snapshot_quota < 0:
                    raise ValueError(f"snapshot_quota must not be negative, got {snapshot_quota}")
                self.snapshot_quota = snapshot_quota

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            self._clusters.clear()
            self._snapshots.clear()
            self._settle_times.clear()
            self._gone_times.clear()
            self._sequence = 0
            if seed is not None:
                self._ids = random.Random(seed)
                self.faults.reseed(seed)

    # -- clusters ------------------------------------------------------------------------------------------

    def create_cluster(
        self,
        caller: Caller,
        *,
        name: str,
        admin_user_name: str,
        auth_type: str,
        shard_capacity: int,
        shard_count: int,
        shard_instance_count: int | None = None,
        kms_key_id: str = "",
        subnet_ids: Iterable[str] = (),
        vpc_security_group_ids: Iterable[str] = (),
        preferred_maintenance_window: str = DEFAULT_MAINTENANCE_WINDOW,
        tags: Mapping[str, str] | None = None,
    ) -> Cluster:
        instances = DEFAULT_SHARD_INSTANCE_COUNT if shard_instance_count is None else shard_instance_count
        _check_shards(shard_capacity, shard_count, instances)
        with self._lock:
            return self._new_cluster(
                caller,
                name=name,
                kms_key_id=kms_key_id,
                tags=tags,
                admin_user_name=admin_user_name,
                auth_type=auth_type,
                shard_capacity=shard_capacity,
                shard_count=shard_count,
                shard_instance_count=instances,
                subnet_ids=list(subnet_ids) or [f"subnet-{self._hex(8)}"],
                vpc_security_group_ids=list(vpc_security_group_ids) or [f"sg-{self._hex(8)}"],
                preferred_maintenance_window=preferred_maintenance_window,
                settles_at=self.clock.now() + self.durations.cluster,
            )

    def restore_cluster(
        self,
        caller: Caller,
        *,
        snapshot_arn: str,
        name: str,
        kms_key_id: str = "",
        shard_capacity: int | None = None,
        shard_instance_count: int | None = None,
        subnet_ids: Iterable[str] = (),
        vpc_security_group_ids: Iterable[str] = (),
        tags: Mapping[str, str] | None = None,
    ) -> Cluster:
        """A new cluster from an ACTIVE snapshot of the caller's account and region, CREATING for the restore
        duration (or for ever, or into a failure status, as the faults decide).

        Assumed: capacity, shard count, instances, admin user, auth type, subnets and security groups the
        request leaves out are the snapshot's source cluster's. The key the request leaves out is the
        account's default key of the region, as the model docs of RestoreClusterFromSnapshot's `kmsKeyId`
        say ("If an encryption key is not specified here, Amazon DocumentDB uses the default encryption key
        that KMS creates for your account"), not the snapshot's key."""
        with self._lock:
            _check_name("clusterName", name)
            now = self.clock.now()
            source = self._source(caller, snapshot_arn, now, doing="restored")
            capacity = source.shard_capacity if shard_capacity is None else shard_capacity
            instances = source.shard_instance_count if shard_instance_count is None else shard_instance_count
            _check_shards(capacity, source.shard_count, instances)
            fate = self.faults.restore_fate(name)
            return self._new_cluster(
                caller,
                name=name,
                kms_key_id=kms_key_id,
                tags=tags,
                admin_user_name=source.admin_user_name,
                auth_type=source.auth_type,
                shard_capacity=capacity,
                shard_count=source.shard_count,
                shard_instance_count=instances,
                subnet_ids=list(subnet_ids) or list(source.subnet_ids),
                vpc_security_group_ids=list(vpc_security_group_ids) or list(source.vpc_security_group_ids),
                preferred_maintenance_window=DEFAULT_MAINTENANCE_WINDOW,
                settles_at=now + self.durations.restore + fate.late if fate.finishes else None,
                final_status=fate.final_status,
            )

    def cluster(self, caller: Caller, arn: str) -> Cluster:
        with self._lock:
            self._sweep()
            cluster = self._clusters.get(arn)
            if cluster is None or cluster.account != caller.account or cluster.region != caller.region:
                raise errors.not_found(errors.CLUSTER, arn)
            return cluster

    def clusters(self, caller: Caller) -> list[Cluster]:
        """The caller's clusters in its region, oldest first."""
        with self._lock:
            self._sweep()
            place = (caller.account, caller.region)
            mine = [c for c in self._clusters.values() if (c.account, c.region) == place]
            return sorted(mine, key=lambda item: item.sequence)

    def update_cluster(self, caller: Caller, arn: str, changes: ClusterChanges) -> Cluster:
        """Apply what UpdateCluster may change; the cluster is UPDATING for the update duration. Assumed:
        only an ACTIVE cluster can be updated (ConflictException otherwise), the new values show at once,
        and a request that changes nothing still starts an update."""
        with self._lock:
            now = self.clock.now()
            cluster = self.cluster(caller, arn)
            status = cluster.status(now)
            if status != ACTIVE:
                raise errors.conflict(
                    errors.CLUSTER, arn, f"Cluster {arn} is {status}; only an ACTIVE cluster can be updated"
                )
            updated = replace(
                cluster, **{name: value for name, value in vars(changes).items() if value is not None}
            )
            _check_shards(updated.shard_capacity, updated.shard_count, updated.shard_instance_count)
            for name in vars(changes):
                setattr(cluster, name, getattr(updated, name))
            cluster.working_status, cluster.settles_at = UPDATING, now + self.durations.update
            cluster.final_status = ACTIVE
            return cluster

    def delete_cluster(self, caller: Caller, arn: str) -> Cluster:
        """Start deleting a cluster: DELETING for the delete duration, then gone. Assumed: a cluster being
        updated or already deleted cannot be deleted (ConflictException); one still being created or in a
        failure status can, so nothing has to be left behind."""
        with self._lock:
            now = self.clock.now()
            cluster = self.cluster(caller, arn)
            status = cluster.status(now)
            if status in (UPDATING, DELETING):
                raise errors.conflict(
                    errors.CLUSTER, arn, f"Cluster {arn} is {status} and cannot be deleted now"
                )
            cluster.gone_at = now + self.durations.delete
            return cluster

    # -- snapshots -----------------------------------------------------------------------------------------

    def create_snapshot(
        self, caller: Caller, *, cluster_arn: str, name: str, tags: Mapping[str, str] | None = None
    ) -> Snapshot:
        _check_name("snapshotName", name)
        _check_tag_count(tags or {})
        with self._lock:
            now = self.clock.now()
            cluster = self.cluster(caller, cluster_arn)
            if cluster.status(now) != ACTIVE:
                raise errors.conflict(
                    errors.CLUSTER, cluster.arn, f"Cluster {cluster.arn} is {cluster.status(now)}, not ACTIVE"
                )
            self._check_new_snapshot(caller, name, now)
            snapshot = self._new_snapshot(
                caller,
                name=name,
                cluster_arn=cluster.arn,
                cluster_created_at=cluster.created_at,
                admin_user_name=cluster.admin_user_name,
                kms_key_id=cluster.kms_key_id,
                working_status=CREATING,
                settles_at=now + self.durations.snapshot,
                final_status=ACTIVE,
                subnet_ids=cluster.subnet_ids,
                vpc_security_group_ids=cluster.vpc_security_group_ids,
                tags=tags or {},
                **_settings_of(cluster),
            )
            return snapshot

    def copy_snapshot(
        self,
        caller: Caller,
        *,
        source_arn: str,
        target_name: str,
        kms_key_id: str | None = None,
        copy_tags: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> Snapshot:
        _check_name("targetSnapshotName", target_name)
        with self._lock:
            now = self.clock.now()
            source = self._source(caller, source_arn, now)
            key = _copy_key(source, caller, kms_key_id)
            merged = {**(source.tags if copy_tags else {}), **(tags or {})}
            _check_tag_count(merged)
            self._check_new_snapshot(caller, target_name, now)
            fate = self.faults.copy_fate(target_name)
            return self._new_snapshot(
                caller,
                name=target_name,
                cluster_arn=source.cluster_arn,
                cluster_created_at=source.cluster_created_at,
                admin_user_name=source.admin_user_name,
                kms_key_id=key,
                working_status=COPYING,
                settles_at=now + self.durations.copy + fate.late if fate.finishes else None,
                final_status=fate.final_status,
                subnet_ids=source.subnet_ids,
                vpc_security_group_ids=source.vpc_security_group_ids,
                tags=merged,
                **_settings_of(source),
            )

    def snapshot(self, caller: Caller, arn: str) -> Snapshot:
        with self._lock:
            self._sweep()
            snapshot = self._snapshots.get(arn)
            if snapshot is None or snapshot.account != caller.account or snapshot.region != caller.region:
                raise errors.not_found(errors.SNAPSHOT, arn)
            return snapshot

    def snapshots(
        self, caller: Caller, *, cluster_arn: str | None = None, snapshot_type: str | None = None
    ) -> list[Snapshot]:
        """The caller's snapshots in its region, oldest first."""
        if snapshot_type is not None and snapshot_type not in (MANUAL, AUTOMATED):
            raise errors.validation(
                f"snapshotType must be {MANUAL} or {AUTOMATED}, got {snapshot_type}", "fieldValidationFailed"
            )
        with self._lock:
            self._sweep()
            return [
                snapshot
                for snapshot in sorted(self._snapshots.values(), key=lambda item: item.sequence)
                if snapshot.account == caller.account
                and snapshot.region == caller.region
                and (cluster_arn is None or snapshot.cluster_arn == cluster_arn)
                and (snapshot_type is None or snapshot.snapshot_type == snapshot_type)
            ]

    def delete_snapshot(self, caller: Caller, arn: str) -> Snapshot:
        with self._lock:
            snapshot = self.snapshot(caller, arn)
            now = self.clock.now()
            status = snapshot.status(now)
            if status in (CREATING, COPYING, DELETING):
                raise errors.conflict(
                    errors.SNAPSHOT, arn, f"Snapshot {arn} is {status} and cannot be deleted now"
                )
            snapshot.gone_at = now + self.durations.delete
            self._gone_times[arn] = snapshot.gone_at
            return snapshot

    # -- tags ----------------------------------------------------------------------------------------------

    def tags_of(self, caller: Caller, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._taggable(caller, arn).tags)

    def tag(self, caller: Caller, arn: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            resource = self._taggable(caller, arn)
            merged = {**resource.tags, **tags}
            _check_tag_count(merged)
            resource.tags = merged

    def untag(self, caller: Caller, arn: str, keys: Iterable[str]) -> None:
        with self._lock:
            resource = self._taggable(caller, arn)
            resource.tags = {key: value for key, value in resource.tags.items() if key not in set(keys)}

    # -- seeding and inspection ----------------------------------------------------------------------------

    def seed_snapshot(
        self,
        *,
        account: str,
        region: str,
        name: str,
        kms_key_id: str = "",
        tags: Mapping[str, str] | None = None,
        cluster_arn: str | None = None,
        status: str = ACTIVE,
        snapshot_type: str = MANUAL,
        snapshot_id: str | None = None,
    ) -> Snapshot:
        """A snapshot that already exists, as a test or a demo needs it (its cluster need not exist; when it
        does, the snapshot has its settings). `snapshot_id` fixes the end of its ARN, for apps that name a
        source by ARN."""
        caller = Caller(account, region)
        _check_name("name", name)
        with self._lock:
            now = self.clock.now()
            self._check_new_snapshot(caller, name, now, count_quota=False)
            arn = None
            cluster = self._clusters.get(cluster_arn or "")
            if snapshot_id is not None:
                arn = self._arn(account, region, errors.SNAPSHOT, snapshot_id)
                if parse_arn(arn) is None or arn in self._snapshots:
                    raise ValueError(f"snapshot id {snapshot_id!r} is not valid or is already taken")
            return self._new_snapshot(
                caller,
                arn=arn,
                name=name,
                cluster_arn=cluster_arn or self._arn(account, region, errors.CLUSTER),
                cluster_created_at=now,
                admin_user_name=cluster.admin_user_name if cluster else "admin",
                kms_key_id=kms_key_id,
                working_status=status,
                settles_at=now,
                final_status=status,
                subnet_ids=list(cluster.subnet_ids) if cluster else [f"subnet-{self._hex(8)}"],
                vpc_security_group_ids=(
                    list(cluster.vpc_security_group_ids) if cluster else [f"sg-{self._hex(8)}"]
                ),
                tags=tags or {},
                snapshot_type=snapshot_type,
                **(_settings_of(cluster) if cluster else {}),
            )

    def settles_at(self, arn: str) -> float | None:
        """When a snapshot's work settled (or will), even after it was deleted; None if never."""
        with self._lock:
            return self._settle_times.get(arn)

    def gone_at(self, arn: str) -> float | None:
        """When a snapshot's deletion ended (or will), even after it is gone; None if never deleted."""
        with self._lock:
            return self._gone_times.get(arn)

    def state(self) -> dict[str, Any]:
        """Everything the service holds, as the API would show it, for tests and the control API."""
        with self._lock:
            self._sweep()
            now = self.clock.now()
            return {
                "clusters": [
                    {**c.view(now), "port": PORT, "tags": dict(c.tags)}
                    for c in sorted(self._clusters.values(), key=lambda item: item.sequence)
                ],
                "snapshots": [
                    {**s.view(now), "tags": dict(s.tags)}
                    for s in sorted(self._snapshots.values(), key=lambda item: item.sequence)
                ],
                "durations": vars(self.durations).copy(),
                "snapshotQuota": self.snapshot_quota,
            }

    def to_json(self) -> dict[str, Any]:
        """Everything the service holds, as JSON values, for `from_json` in a later process (a restarted local
        cloud keeps the snapshots and clusters its stacks made). Times are the clock's seconds: the process
        that loads them must run a clock that continues from them."""
        with self._lock:
            version, internal, gauss = self._ids.getstate()
            return {
                "clusters": [asdict(cluster) for cluster in self._clusters.values()],
                "snapshots": [asdict(snapshot) for snapshot in self._snapshots.values()],
                "settleTimes": dict(self._settle_times),
                "goneTimes": dict(self._gone_times),
                "sequence": self._sequence,
                "ids": [version, list(internal), gauss],
            }

    def from_json(self, data: Mapping[str, Any]) -> None:
        """Replaces what the service holds with what `to_json` saved (its configuration and faults stay)."""
        with self._lock:
            self._clusters = {item["arn"]: Cluster(**item) for item in data["clusters"]}
            self._snapshots = {item["arn"]: Snapshot(**item) for item in data["snapshots"]}
            self._settle_times = dict(data["settleTimes"])
            self._gone_times = dict(data.get("goneTimes", {}))
            self._sequence = int(data["sequence"])
            version, internal, gauss = data["ids"]
            self._ids.setstate((version, tuple(internal), gauss))

    # -- internals -----------------------------------------------------------------------------------------

    def _new_snapshot(
        self, caller: Caller, *, snapshot_type: str = MANUAL, arn: str | None = None, **values: Any
    ) -> Snapshot:
        """A snapshot of the caller's account and region; without a key ("") it has the account's default."""
        self._sequence += 1
        values["kms_key_id"] = values["kms_key_id"] or default_key_arn(caller.account, caller.region)
        snapshot = Snapshot(
            arn=arn or self._arn(caller.account, caller.region, errors.SNAPSHOT),
            account=caller.account,
            region=caller.region,
            sequence=self._sequence,
            snapshot_type=snapshot_type,
            created_at=self.clock.now(),
            **values,
        )
        self._snapshots[snapshot.arn] = snapshot
        self._settle_times[snapshot.arn] = snapshot.settles_at
        return snapshot

    def _check_new_snapshot(self, caller: Caller, name: str, now: float, *, count_quota: bool = True) -> None:
        self._sweep()
        mine = [
            s for s in self._snapshots.values() if (s.account, s.region) == (caller.account, caller.region)
        ]
        taken = next((s for s in mine if s.name.lower() == name.lower()), None)
        if taken is not None:
            raise errors.conflict(
                errors.SNAPSHOT, taken.arn, f"A snapshot named {taken.name} already exists: {taken.arn}"
            )
        manual = sum(1 for s in mine if s.snapshot_type == MANUAL)
        if count_quota and manual >= self.snapshot_quota:
            raise errors.quota_exceeded(
                f"Account {caller.account} has reached its quota of {self.snapshot_quota} manual cluster "
                f"snapshots in {caller.region}"
            )

    def _source(self, caller: Caller, arn: str, now: float, *, doing: str = "copied") -> Snapshot:
        """The ACTIVE snapshot of the caller's account and region a copy or a restore starts from. Assumed:
        a snapshot that is not ACTIVE is a ConflictException, for a restore as for a copy."""
        parsed = parse_arn(arn)
        if parsed is None or parsed.kind != errors.SNAPSHOT:
            raise errors.validation(f"{arn} is not a cluster snapshot ARN", "fieldValidationFailed")
        _check_same_place(arn, parsed, caller, doing)
        self._sweep()
        source = self._snapshots.get(arn)
        if source is None or source.account != caller.account or source.region != caller.region:
            raise errors.not_found(errors.SNAPSHOT, arn)
        status = source.status(now)
        if status != ACTIVE:
            raise errors.conflict(errors.SNAPSHOT, arn, f"Source snapshot {arn} is {status}, not ACTIVE")
        return source

    def _taggable(self, caller: Caller, arn: str) -> Cluster | Snapshot:
        parsed = parse_arn(arn)
        if parsed is None:
            raise errors.validation(
                f"{arn} is not a docdb-elastic cluster or snapshot ARN", "fieldValidationFailed"
            )
        if parsed.kind == errors.CLUSTER:
            return self.cluster(caller, arn)
        return self.snapshot(caller, arn)

    def _cluster_named(self, account: str, region: str, name: str) -> Cluster | None:
        return next(
            (
                c
                for c in self._clusters.values()
                if (c.account, c.region) == (account, region) and c.name.lower() == name.lower()
            ),
            None,
        )

    def _sweep(self) -> None:
        """Forget what finished deleting."""
        now = self.clock.now()
        for arn in [arn for arn, s in self._snapshots.items() if s.gone_at is not None and now >= s.gone_at]:
            del self._snapshots[arn]
        for arn in [arn for arn, c in self._clusters.items() if c.gone_at is not None and now >= c.gone_at]:
            del self._clusters[arn]

    def _new_cluster(
        self,
        caller: Caller,
        *,
        name: str,
        kms_key_id: str,
        tags: Mapping[str, str] | None,
        settles_at: float | None,
        **values: Any,
    ) -> Cluster:
        """A CREATING cluster of the caller's account and region, under a name no cluster there has (ignoring
        case), with its key (the account's default of the region when none is given) and tags checked."""
        _check_name("clusterName", name)
        _check_tag_count(tags or {})
        _check_key_region(kms_key_id, caller.region)
        self._sweep()
        taken = self._cluster_named(caller.account, caller.region, name)
        if taken is not None:
            raise errors.conflict(errors.CLUSTER, taken.arn, f"A cluster named {name} already exists")
        self._sequence += 1
        cluster = Cluster(
            arn=self._arn(caller.account, caller.region, errors.CLUSTER),
            # "This parameter is stored as a lowercase string" (model docs of CreateCluster's clusterName).
            name=name.lower(),
            account=caller.account,
            region=caller.region,
            sequence=self._sequence,
            created_at=self.clock.now(),
            kms_key_id=kms_key_id or default_key_arn(caller.account, caller.region),
            working_status=CREATING,
            settles_at=settles_at,
            tags=dict(tags or {}),
            **values,
        )
        self._clusters[cluster.arn] = cluster
        return cluster

    def _arn(self, account: str, region: str, kind: str, resource_id: str | None = None) -> str:
        resource_id = resource_id or str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        return f"arn:{partition_of(region)}:docdb-elastic:{region}:{account}:{kind}/{resource_id}"

    def _hex(self, digits: int) -> str:
        return f"{self._ids.getrandbits(digits * 4):0{digits}x}"


def _check_name(member: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise errors.validation(
            f"{member} '{name}' is invalid: use 1-63 letters, digits or hyphens, starting with a letter, "
            "with no trailing hyphen and no two consecutive hyphens",
            "fieldValidationFailed",
            [{"name": member, "message": "invalid name"}],
        )


def _check_shards(capacity: int, count: int, instances: int) -> None:
    """The shard rules the model docs state in words (see SHARD_CAPACITIES)."""
    found = []
    if capacity not in SHARD_CAPACITIES:
        found.append(("shardCapacity", f"{capacity} is not one of {', '.join(map(str, SHARD_CAPACITIES))}"))
    if not 1 <= count <= MAX_SHARD_COUNT:
        found.append(("shardCount", f"{count} is not from 1 to {MAX_SHARD_COUNT}"))
    if not 1 <= instances <= MAX_SHARD_INSTANCE_COUNT:
        found.append(("shardInstanceCount", f"{instances} is not from 1 to {MAX_SHARD_INSTANCE_COUNT}"))
    if found:
        raise errors.validation(
            "; ".join(f"{member} {message}" for member, message in found),
            "fieldValidationFailed",
            [{"name": member, "message": message} for member, message in found],
        )


def _settings_of(source: Cluster | Snapshot) -> dict[str, Any]:
    """The settings a snapshot keeps of its cluster, for clusters restored from it."""
    return {
        "auth_type": source.auth_type,
        "shard_capacity": source.shard_capacity,
        "shard_count": source.shard_count,
        "shard_instance_count": source.shard_instance_count,
    }


def _check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.validation(
            f"A resource can have at most {MAX_TAGS} tags; this request would give it {len(tags)}",
            "fieldValidationFailed",
        )


def _check_same_place(arn: str, source: ParsedArn, caller: Caller, doing: str) -> None:
    """Elastic cluster snapshots are copied "within the same region and within the same account"
    (DocumentDB Developer Guide, "Managing elastic cluster snapshots" > "Copying an elastic cluster
    snapshot"). Assumed: the service refuses any other source with a ValidationException, for a restore as
    for a copy; the wording is this service's own."""
    here = (caller.partition, caller.region, caller.account)
    there = (source.partition, source.region, source.account)
    if there != here:
        raise errors.validation(
            f"Source snapshot {arn} is not in {caller.region} of account {caller.account}: elastic cluster "
            f"snapshots can only be {doing} within the same region and the same account",
            "fieldValidationFailed",
            [{"name": "snapshotArn", "message": "not in the same region and account"}],
        )


def _check_key_region(kms_key_id: str | None, region: str) -> None:
    """KMS keys belong to one region: a key ARN of another region cannot encrypt anything here (model docs
    of CopyClusterSnapshot's `kmsKeyId`)."""
    key_region = parse_arn_region(kms_key_id)
    if key_region is not None and key_region != region:
        raise errors.validation(
            f"KMS key {kms_key_id} is in {key_region}; a resource made in {region} needs a key of {region}",
            "fieldValidationFailed",
            [{"name": "kmsKeyId", "message": "key of another region"}],
        )


def _copy_key(source: Snapshot, caller: Caller, kms_key_id: str | None) -> str:
    """The key a copy is encrypted with: the given one, else the source's ("If you don't specify a value for
    KmsKeyId, then the copy ... is encrypted with the same AWS KMS key as the source", model docs of
    CopyClusterSnapshot's `kmsKeyId`). Every source has a key, so any source may be re-encrypted."""
    _check_key_region(kms_key_id, caller.region)
    return kms_key_id or source.kms_key_id


def parse_arn_region(value: str | None) -> str | None:
    """The region of any ARN (a KMS key's, for instance), or None for ids and aliases."""
    parts = (value or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None
