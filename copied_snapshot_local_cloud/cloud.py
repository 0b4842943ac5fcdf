"""The local cloud: the services a deployment of this project needs, on loopback, and CloudFormation's part.

- docdb-elastic: the project's own local service (`copied_snapshot_local_cloud.docdb_elastic`);
- KMS, SSM, IAM, Lambda (functions, resource policies) and EventBridge (rules, targets): moto in server mode;
- Lambda execution: `lambda_runtime`, running each function's bundled asset in worker processes;
- EventBridge's schedules: `scheduler`, firing enabled rate rules at their targets;
- time: one clock (`clock`) for every wait: scaled (`time_scale`) or simulated (idle time skipped);
- custom resource responses: an HTTPS ResponseURL with a throwaway CA (`cloudformation.responses`);
- CloudFormation: `cloudformation.engine`, deploying a synthesized cloud assembly, stacks kept in `state_dir`;
- the services' state: `persistence`, saved in `state_dir` with the stacks, so that a restart continues.

Functions reach every service through the standard variables (`AWS_ENDPOINT_URL_DOCDB_ELASTIC`,
`AWS_ENDPOINT_URL`), with an access key of the stack's account (`access_key`), exactly as an unchanged boto3
reads them.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from copied_snapshot_local_cloud import persistence, serving
from copied_snapshot_local_cloud.assembly import AssemblyError, Stack, read_assembly
from copied_snapshot_local_cloud.clock import Clock, ScaledClock, SimulatedClock
from copied_snapshot_local_cloud.cloudformation.custom import CustomResource
from copied_snapshot_local_cloud.cloudformation.engine import Engine, StackEvent
from copied_snapshot_local_cloud.cloudformation.errors import DeploymentError, InvalidRequest
from copied_snapshot_local_cloud.cloudformation.order import Order
from copied_snapshot_local_cloud.cloudformation.providers import Provider, default_providers
from copied_snapshot_local_cloud.cloudformation.responses import ResponseEndpoint, ResponseFaults
from copied_snapshot_local_cloud.cloudformation.store import StackState, StackStore
from copied_snapshot_local_cloud.docdb_elastic import LocalDocDBElastic
from copied_snapshot_local_cloud.docdb_elastic.identity import ACCOUNT_ID, DEFAULT_ACCOUNT, Caller
from copied_snapshot_local_cloud.docdb_elastic.state import AUTOMATED, Durations, parse_arn
from copied_snapshot_local_cloud.gateway import Gateway, routes_of
from copied_snapshot_local_cloud.lambda_runtime import runtime_site
from copied_snapshot_local_cloud.lambda_runtime.runner import Faults, LambdaRunner
from copied_snapshot_local_cloud.report import Report
from copied_snapshot_local_cloud.scheduler import Scheduler

DEFAULT_REGION = "us-east-1"
ACCESS_KEY_USER = "local-cloud"  # the IAM user in each account whose access key acts as the account
# What `cdk bootstrap` leaves in each environment and synthesized templates check.
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"
SECRET_ACCESS_KEY = "local-cloud"  # noqa: S105 - the local services check no secret
# Simulated seconds (the service runs on the local cloud's clock): two, three, one, four and two minutes,
# a few wall-clock seconds at the default time scale.
DEFAULT_DURATIONS = Durations(
    cluster=120.0, snapshot=120.0, copy=180.0, delete=60.0, restore=240.0, update=120.0
)
# Wall-clock seconds a safe point waits at most for invocations still running (see `_quiet`).
QUIET_WAIT = 10.0
POLL = 0.05

# What a run of the local cloud writes in its state folder (the Lambda runtime's build is a cache, kept).
RUN_STATE = (
    "stacks",
    "logs",
    "report.json",
    "endpoints.json",
    "response-ca.pem",
    "function-code",  # function code the CloudFormation API read back from S3
    "cdk-home",  # the CDK CLI's own home (its cache of which access key is which account)
    "outputs.json",  # `cdk deploy --outputs-file`
    persistence.SERVICES_FILE,
    persistence.MOTO_FILE,
)


class StaleState(DeploymentError):
    """The state folder holds stacks that the saved services' state cannot be continued from."""


def wipe(state_dir: Path) -> None:
    """Removes what earlier runs left in `state_dir` (and nothing else in it)."""
    for name in RUN_STATE:
        path = state_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class AtLeastOnce:
    """Deliveries as unkind as AWS's, seeded: EventBridge may deliver a rule's target twice (`duplicates`:
    the probability, the second within `duplicate_delay` seconds, concurrently when 0), and `faults` says
    what Lambda does (retries of failed asynchronous invocations, injected worker crashes and timeouts)."""

    duplicates: float = 0.0
    duplicate_delay: float = 0.0
    faults: Faults = field(default_factory=Faults)


class LocalCloud(serving.Running):
    def __init__(
        self,
        state_dir: Path,
        *,
        account: str = DEFAULT_ACCOUNT,
        time_scale: float = 60.0,
        simulated: bool = False,
        durations: Durations = DEFAULT_DURATIONS,
        seed: int = 0,
        order: Order | None = None,
        providers: Mapping[str, Provider] | None = None,
        delivery: AtLeastOnce | None = None,
        response_faults: ResponseFaults | None = None,
        lambda_concurrency: int = 16,
        progress: Callable[[StackEvent], None] = lambda event: None,
        fresh: bool = False,
        gateway: bool = False,
    ) -> None:
        """`time_scale`: simulated seconds per wall-clock second; `simulated`: skip idle time as well;
        `durations`: how long the docdb-elastic service's work takes, in simulated seconds;
        `order` picks the order of a stack's resources among those its dependencies allow (default:
        CloudFormation's, all ready resources at once); `providers` replaces the resource types' providers;
        `delivery`: at-least-once deliveries and injected Lambda faults; `response_faults`: refused answers
        and outages of the ResponseURL; `fresh`: wipe what earlier runs left in `state_dir` first;
        `gateway`: serve every service, CloudFormation's API too, on one endpoint (`gateway_url`);
        `lambda_concurrency`: asynchronous invocations running at once, across functions (an account's
        concurrency; more wait their turn, as Lambda queues throttled asynchronous invocations)."""
        if fresh:
            wipe(state_dir)
        self.state_dir = state_dir
        self.account = account
        self._saved = persistence.read(state_dir)
        self._started = False
        # Times the services saved are the last run's clock's: this run's continues from where it was.
        start = self._saved[0].clock if self._saved else None
        self.clock: Clock = (
            SimulatedClock(scale=time_scale, start=start)
            if simulated
            else ScaledClock(time_scale, start=start)
        )
        self.time_scale = time_scale
        self.delivery = delivery or AtLeastOnce()
        self.docdb = LocalDocDBElastic(seed=seed, durations=durations, clock=self.clock)
        self._moto = ThreadedMotoServer(ip_address=serving.LOOPBACK, port=0, verbose=False)
        self.moto_url = ""
        self.responses = ResponseEndpoint(state_dir, clock=self.clock, faults=response_faults)
        self.runner = LambdaRunner(
            state_dir / "logs",
            runtime_site.build(state_dir / "runtime"),
            clock=self.clock,
            faults=self.delivery.faults,
            max_concurrency=lambda_concurrency,
        )
        self._places: set[tuple[str, str]] = {(DEFAULT_REGION, account)}  # (region, account) deployed to
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._default_keys: dict[tuple[str, str], str] = {}
        self._clients_lock = threading.Lock()
        self._access_keys: dict[str, str] = {}
        self._access_keys_lock = threading.Lock()
        self.scheduler = Scheduler(
            self.client,
            self.runner,
            self._rule_places,
            clock=self.clock,
            tick=None if simulated else 0.1,  # a simulated clock must not be held by the scheduler's rescans
            duplicates=self.delivery.duplicates,
            duplicate_delay=self.delivery.duplicate_delay,
            seed=seed,
        )
        self.custom = CustomResource(self.responses)
        self.store = StackStore(state_dir)
        self._watchers: list[Callable[[StackEvent], None]] = [progress]
        self.engine = Engine(
            self,
            self.store,
            providers=default_providers() if providers is None else providers,
            custom=self.custom,
            order=order,
            progress=self._publish,
        )
        self.gateway = Gateway(lambda: routes_of(self)) if gateway else None

    # -- life ------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._check_recoverable()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request otherwise
        self.docdb.start()
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        # moto keeps its state per process: a new local cloud starts from an empty one, or the saved one.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"))  # noqa: S310
        self.responses.start()
        if self._saved:
            self._load(*self._saved)
        self.scheduler.start()
        if self.gateway is not None:
            self.gateway.start()
        self._started = True
        return self

    def _check_recoverable(self) -> None:
        """Stacks stored by an earlier run name resources in moto, the docdb-elastic service and the Lambda
        runner: the cloud continues from them only with the services' state saved at the stacks' last safe
        point, and refuses to start otherwise instead of failing later."""
        found = persistence.problems(self.store.all(), self._saved[0] if self._saved else None)
        if found:
            raise StaleState(
                f"{self.state_dir} holds an earlier run's state that cannot be continued from: "
                f"{'; '.join(found)}. Start again with --fresh (LocalCloud(fresh=True)) to wipe the state "
                "folder: its stacks and the services' state go, and with them every resource they made."
            )

    def _load(self, saved: persistence.Saved, moto: bytes) -> None:
        """The services as the last run saved them; its functions run with this run's endpoints."""
        persistence.load_moto(moto)
        self.docdb.backend.from_json(saved.docdb)
        for account, access_key in saved.access_keys.items():
            self._access_keys[account] = access_key
            self.docdb.service.accounts[access_key] = account
        self._default_keys.update({(region, account): arn for region, account, arn in saved.default_keys})
        self._places.update(saved.places)
        for data in saved.functions:
            function = persistence.function_from_json(data)
            _, _, _, region, account, *_ = function.arn.split(":")
            environment = self.function_environment(region, function.environment, account)
            self.runner.register(replace(function, environment=environment))

    def save(self) -> None:
        """Saves the services' state with the stacks (a safe point: no stack operation is under way), once
        the invocations still running have ended."""
        self._quiet()
        with self._access_keys_lock:
            access_keys = dict(self._access_keys)
        moto = persistence.dump_moto()
        saved = persistence.Saved(
            clock=self.clock.now(),
            stacks={stack.stack_name: persistence.stack_digest(stack) for stack in self.store.all()},
            docdb=self.docdb.backend.to_json(),
            moto_digest=persistence.moto_digest(moto),
            moto_version=persistence.moto_version(),
            access_keys=access_keys,
            default_keys=[(region, account, arn) for (region, account), arn in self._default_keys.items()],
            places=sorted(self._places),
            functions=[persistence.function_json(function) for function in self.runner.functions()],
        )
        persistence.write(self.state_dir, saved, moto)

    def _quiet(self) -> None:
        """Waits (up to QUIET_WAIT) until no invocation runs. A handler goes on for a moment after it answers
        (crhelper removes its polling rule then): saved before that, the state would hold a rule that polls,
        in the next run, for an answer nobody waits for any more."""
        deadline = time.monotonic() + QUIET_WAIT
        while time.monotonic() < deadline and any(
            record.outcome == "running" for record in list(self.runner.invocations)
        ):
            time.sleep(POLL)

    @property
    def gateway_url(self) -> str:
        """The one endpoint of every service (`AWS_ENDPOINT_URL` for a tool), once started with a gateway."""
        if self.gateway is None:
            raise InvalidRequest("this local cloud was started without a gateway (LocalCloud(gateway=True))")
        return self.gateway.url

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        self.scheduler.stop()
        try:
            if self._started:
                self._started = False
                self.save()
        finally:
            self.runner.shutdown()
            self.responses.stop()
            self._moto.stop()
            self.docdb.stop()
            if isinstance(self.clock, SimulatedClock):
                self.clock.stop()

    # -- what resources and functions use --------------------------------------------------------------------

    def client(self, service: str, region: str, account: str | None = None) -> Any:
        """A boto3 client of the local cloud acting as `account` (default: the cloud's): its 12 digits are the
        access key, which moto's multi-account mode and the docdb-elastic service take as the account."""
        account = account or self.account
        key = (service, region, account)
        access_key = self.access_key(account)
        with self._clients_lock:
            if key not in self._clients:
                endpoint = self.docdb.endpoint_url if service == "docdb-elastic" else self.moto_url
                self._clients[key] = boto3.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=endpoint,
                    region_name=region,
                    aws_access_key_id=access_key,
                    aws_secret_access_key=SECRET_ACCESS_KEY,
                    config=Config(retries={"mode": "standard"}),
                )
            return self._clients[key]

    def access_key(self, account: str) -> str:
        """The access key that acts as `account` (12 digits) in every service, made when first needed.

        moto knows an account by an IAM access key made in it, or by its `x-moto-account-id` header (moto's
        documentation, "Multi-Account support"): a function's unchanged boto3 sends no such header, so a key
        is made in the account (through the header) and the docdb-elastic service is told whose key it is."""
        if not ACCOUNT_ID.fullmatch(account):
            raise InvalidRequest(f"an account is 12 digits, got {account!r}")
        with self._access_keys_lock:
            if account not in self._access_keys:
                iam = boto3.client(
                    "iam",
                    endpoint_url=self.moto_url,
                    region_name=DEFAULT_REGION,
                    aws_access_key_id=account,
                    aws_secret_access_key=SECRET_ACCESS_KEY,
                )
                iam.meta.events.register(
                    "before-sign.iam.*",
                    lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
                )
                iam.create_user(UserName=ACCESS_KEY_USER)
                made = iam.create_access_key(UserName=ACCESS_KEY_USER)["AccessKey"]["AccessKeyId"]
                self.docdb.service.accounts[made] = account
                self._access_keys[account] = made
            return self._access_keys[account]

    def function_environment(
        self, region: str, variables: Mapping[str, str], account: str | None = None
    ) -> dict[str, str]:
        """What a Lambda function's process sees: its variables, then Lambda's and the endpoints', acting as
        the function's account."""
        return {
            **variables,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": self.access_key(account or self.account),
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_DOCDB_ELASTIC": self.docdb.endpoint_url,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "SSL_CERT_FILE": str(self.responses.ca_file),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }

    def watch(self, watcher: Callable[[StackEvent], None]) -> Callable[[], None]:
        """Calls `watcher` with every stack event from now on; answers the function that stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    def _publish(self, event: StackEvent) -> None:
        for watcher in list(self._watchers):
            watcher(event)

    def seed_source_snapshot(
        self, arn: str, *, encrypted: bool = True, tags: Mapping[str, str] | None = None
    ) -> str:
        """A cluster and an AUTOMATED snapshot of it that exist before any deployment, in the ARN's account
        and region; the snapshot has the ARN given (its name is the ARN's id, and so is the cluster's).

        Encrypted (the default) means with the account's default key of the region, as a cluster created
        without a key is (the service model's documentation of CreateCluster's `kmsKeyId`)."""
        parsed = parse_arn(arn)
        if parsed is None or parsed.kind != "cluster-snapshot":
            raise InvalidRequest(f"{arn} is not a docdb-elastic cluster-snapshot ARN")
        if any(item["snapshotArn"] == arn for item in self.docdb.backend.state()["snapshots"]):
            return arn  # seeded by an earlier run on this state folder, and kept with its services' state
        key = self._default_key(parsed.region, parsed.account) if encrypted else ""
        cluster = self.docdb.backend.create_cluster(
            Caller(parsed.account, parsed.region),
            name=parsed.resource_id,
            admin_user_name="admin",
            auth_type="PLAIN_TEXT",
            shard_capacity=2,
            shard_count=1,
            kms_key_id=key,
        )
        self.docdb.backend.seed_snapshot(
            account=parsed.account,
            region=parsed.region,
            name=parsed.resource_id,
            kms_key_id=key,
            tags=tags,
            cluster_arn=cluster.arn,
            snapshot_type=AUTOMATED,
            snapshot_id=parsed.resource_id,
        )
        return arn

    def _default_key(self, region: str, account: str) -> str:
        """The account's default key of `region`, made in KMS when first needed (it stands in for the key
        AWS manages for the account)."""
        if (region, account) not in self._default_keys:
            kms = self.client("kms", region, account)
            metadata = kms.create_key(Description=f"default key of the account in {region}")["KeyMetadata"]
            self._default_keys[region, account] = str(metadata["Arn"])
        return self._default_keys[region, account]

    # -- deployments -----------------------------------------------------------------------------------------

    def stacks(self, assembly_dir: Path, names: list[str] | None = None) -> list[Stack]:
        found = read_assembly(assembly_dir, default_account=self.account, default_region=DEFAULT_REGION)
        if names:
            unknown = set(names) - {stack.stack_name for stack in found}
            if unknown:
                raise AssemblyError(f"no stack named {', '.join(sorted(unknown))} in {assembly_dir}")
            found = [stack for stack in found if stack.stack_name in names]
        return found

    def deploy(self, assembly_dir: Path, names: list[str] | None = None) -> list[StackState]:
        """Deploys the assembly's stacks in dependency order (creating or updating each)."""
        deployed = []
        with self.clock.busy():
            for stack in self.stacks(assembly_dir, names):
                self.bootstrap(stack.region, stack.account)
                try:
                    deployed.append(self.engine.deploy(stack))
                finally:
                    self.save()
        return deployed

    def destroy(self, assembly_dir: Path, names: list[str] | None = None) -> list[str]:
        """Destroys the assembly's deployed stacks, dependents first; answers the stacks destroyed."""
        destroyed = []
        with self.clock.busy():
            for stack in reversed(self.stacks(assembly_dir, names)):
                try:
                    if self.engine.destroy(stack.stack_name):
                        destroyed.append(stack.stack_name)
                finally:
                    self.save()
        return destroyed

    def _rule_places(self) -> list[tuple[str, str]]:
        """Where the scheduler looks for rules: (region, account) of each place deployed to and of each
        function (a stack the CloudFormation API deployed may be the first in its place)."""
        functions = {(f.arn.split(":")[3], f.arn.split(":")[4]) for f in self.runner.functions()}
        return sorted(self._places | functions)

    def bootstrap(self, region: str, account: str | None = None) -> None:
        """What `cdk bootstrap` leaves behind that templates check: the bootstrap version parameter."""
        account = account or self.account
        self._places.add((region, account))
        self.client("ssm", region, account).put_parameter(
            Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
        )

    def report(self) -> Report:
        return Report.of(self)

    def write_report(self) -> Path:
        path = self.state_dir / "report.json"
        path.write_text(json.dumps(self.report().as_dict(), indent=1))
        return path
