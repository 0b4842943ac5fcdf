"""The services' state, kept in the state folder with the stacks, so that a local cloud started again on the
folder continues where the last one stopped (`serve` restarted, a rerun after a failed deploy or Ctrl-C).

Two parts, kept two ways:

- moto's backends (IAM with the accounts' access keys, Lambda functions and their resource policies,
  EventBridge rules and targets, including those handlers made at run time, KMS, SSM, Logs, EC2, and the
  bootstrap stack's S3 staging bucket with the assets the CDK CLI published, and ECR repository) in
  `moto.pickle`. moto runs in this process (ThreadedMotoServer), so its backends are plain Python objects,
  pickled per service as LocalStack's persistence does. Rebuilding them from the stored stacks through the API
  cannot work: moto picks KMS key ids, IAM access keys and EC2 ids itself, and the stacks hold them.
  Standard pickle refuses five parts of moto's backends (checked with moto 5.2): KMS's RSA private keys,
  Lambda's WeakValueDictionary, SSM's ParameterDict, defaultdicts made by lambdas and ECR's lock; `_Pickler`
  reduces them to plain values (a lock to a new one). A pickle runs code when loaded: the folder is trusted
  as the local cloud's own.
- everything else as JSON in `services.json`: the clock's time, the docdb-elastic service's state, the
  accounts' access keys and default keys, the places deployed to, the functions the Lambda runner runs, a
  digest of the pickle and one of each stored stack.

It is saved at safe points (each settled stack operation, and stop) and loaded by start. The stacks are
written during an operation and the services' state only at safe points: a stored stack whose digest is not
the saved one was changed by a run that did not reach its next safe point (killed), and cannot be trusted.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import pickle
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.backends import get_backend
from moto.ssm.models import ParameterDict

from copied_snapshot_local_cloud.cloudformation.store import StackState
from copied_snapshot_local_cloud.lambda_runtime.runner import Function

SERVICES_FILE = "services.json"
MOTO_FILE = "moto.pickle"
FORMAT = 1
# The moto services the local cloud's resources and functions use (see `cloud`'s docstring).
MOTO_SERVICES = ("iam", "sts", "lambda", "events", "kms", "ssm", "logs", "ec2", "s3", "ecr")


@dataclass(frozen=True)
class Saved:
    """What `services.json` holds."""

    clock: float  # the clock's time when saved: a restarted clock continues from it
    stacks: dict[str, str]  # stack name -> digest of the stack as stored then
    docdb: dict[str, Any]
    moto_digest: str
    moto_version: str = ""  # a pickle is read back by the moto version that wrote it
    access_keys: dict[str, str] = field(default_factory=dict)  # account -> access key id
    default_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (region, account, key ARN)
    places: list[tuple[str, str]] = field(default_factory=list)  # (region, account)
    functions: list[dict[str, Any]] = field(default_factory=list)  # `function_json`

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Saved:
        values = {key: value for key, value in data.items() if key != "format"}
        values["default_keys"] = [tuple(item) for item in values.get("default_keys", [])]
        values["places"] = [tuple(item) for item in values.get("places", [])]
        return Saved(**values)


def stack_digest(stack: StackState) -> str:
    """A digest of everything stored of a stack: equal digests, same stack."""
    text = json.dumps(asdict(stack), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def function_json(function: Function) -> dict[str, Any]:
    return {**asdict(function), "code_dir": str(function.code_dir), "environment": dict(function.environment)}


def function_from_json(data: Mapping[str, Any]) -> Function:
    return Function(**{**data, "code_dir": Path(data["code_dir"])})


def problems(stacks: Sequence[StackState], saved: Saved | None) -> list[str]:
    """Why the stored stacks and the saved services' state cannot be continued from (nothing: they can)."""
    if saved is not None and saved.moto_version != moto_version():
        return [
            f"the services' state was saved with moto {saved.moto_version or 'unknown'}, this is moto "
            f"{moto_version()}: its pickled backends cannot be read back"
        ]
    if not stacks:
        return []
    if saved is None:
        names = ", ".join(f"{stack.stack_name} ({stack.status})" for stack in stacks)
        return [
            f"stacks {names} were stored without the services' state (the run that made them was killed, "
            "or kept no state)"
        ]
    found = []
    for stack in stacks:
        if stack.status.endswith("_IN_PROGRESS"):
            found.append(
                f"{stack.stack_name} was interrupted while {stack.status}: what its unfinished resources "
                "made is not known"
            )
        elif saved.stacks.get(stack.stack_name) != stack_digest(stack):
            found.append(
                f"{stack.stack_name} ({stack.status}) changed after the services' state was saved (the run "
                "was killed during an operation)"
            )
    stored = {stack.stack_name for stack in stacks}
    found += [
        f"{name} was removed after the services' state was saved (the run was killed during its destroy)"
        for name in sorted(set(saved.stacks) - stored)
    ]
    found += [
        f"function {function['name']}'s code {function['code_dir']} is gone (its assembly was removed)"
        for function in saved.functions
        if not Path(function["code_dir"]).is_dir()
    ]
    return found


def write(state_dir: Path, saved: Saved, moto: bytes) -> None:
    """Writes both files, each replaced whole; `saved` names the pickle by its digest, so a pickle written
    without its `services.json` (a kill between the two) is seen at the next start."""
    _replace(state_dir / MOTO_FILE, moto)
    _replace(state_dir / SERVICES_FILE, json.dumps(saved.to_json(), indent=1, sort_keys=True).encode())


def read(state_dir: Path) -> tuple[Saved, bytes] | None:
    """What `write` saved, None when nothing was (or the two files do not belong together, or the format is
    another version's)."""
    services, moto = state_dir / SERVICES_FILE, state_dir / MOTO_FILE
    if not services.is_file() or not moto.is_file():
        return None
    try:
        data = json.loads(services.read_text())
        if data.get("format") != FORMAT:
            return None
        saved = Saved.from_json(data)
    except (ValueError, TypeError):  # not JSON, or not the fields of `Saved`: not a state to continue from
        return None
    pickled = moto.read_bytes()
    if hashlib.sha256(pickled).hexdigest() != saved.moto_digest:
        return None
    return saved, pickled


def dump_moto() -> bytes:
    """moto's backends of `MOTO_SERVICES`, pickled."""
    buffer = io.BytesIO()
    _Pickler(buffer).dump({name: get_backend(name) for name in MOTO_SERVICES})  # type: ignore[call-overload]
    return buffer.getvalue()


def load_moto(data: bytes) -> None:
    """Replaces the contents of moto's backends of `MOTO_SERVICES` with what `dump_moto` pickled."""
    loaded: dict[str, Any] = pickle.loads(data)  # noqa: S301 - its own state (see the module's docstring)
    for name, backends in loaded.items():
        live = get_backend(name)  # type: ignore[call-overload]
        live.clear()
        live.update(backends)


def moto_version() -> str:
    return version("moto")


def moto_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


_LOCKS = (type(threading.Lock()), type(threading.RLock()))


class _Pickler(pickle.Pickler):
    """Pickles moto's backends: the parts standard pickle refuses become plain values."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, rsa.RSAPrivateKey):
            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            reduced: Any = (_private_key, (der,))
        elif isinstance(obj, _LOCKS):
            reduced = (type(obj), ())  # a lock is held by no one between runs: a new one
        elif isinstance(obj, weakref.WeakValueDictionary):
            # Its values are also held by the backend (the pickle keeps them alive once loaded).
            reduced = (weakref.WeakValueDictionary, (dict(obj),))
        elif isinstance(obj, ParameterDict):
            reduced = (_parameter_dict, (obj.account_id, obj.region_name, dict(obj), dict(vars(obj))))
        elif (
            isinstance(obj, collections.defaultdict)
            and obj.default_factory is not None
            and _is_lambda(obj.default_factory)
        ):
            reduced = (
                collections.defaultdict,
                (_named_factory(obj.default_factory),),
                None,
                None,
                iter(obj.items()),
            )
        else:
            reduced = NotImplemented
        return reduced


def _is_lambda(factory: Any) -> bool:
    return getattr(factory, "__name__", "") == "<lambda>"


def _named_factory(factory: Callable[[], Any]) -> Callable[[], Any]:
    """A factory pickle can name that makes what a defaultdict's lambda makes (moto's: `lambda: {}`, and
    SSM's `lambda: defaultdict(dict)`)."""
    made = factory()
    if type(made) in (dict, list, set) and not made:
        return type(made)
    if isinstance(made, collections.defaultdict) and made.default_factory is dict and not made:
        return _dicts_by_key
    raise TypeError(f"cannot save a defaultdict whose factory {factory.__qualname__} makes {made!r}")


def _dicts_by_key() -> collections.defaultdict[str, dict[str, Any]]:
    return collections.defaultdict(dict)


def _private_key(der: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(der, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _parameter_dict(
    account: str, region: str, items: Mapping[str, Any], attributes: Mapping[str, Any]
) -> ParameterDict:
    made = ParameterDict(account, region)
    made.update(items)
    vars(made).update(attributes)
    return made
