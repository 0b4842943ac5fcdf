"""The custom resource's properties: the one contract between the construct and the handler.

CloudFormation delivers every scalar as a string ("true", "3300"), so parsing accepts both the typed
values the construct writes and their string forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from copied_snapshot_runtime import polling, rules

SOURCE_SNAPSHOT_ARN = "SourceSnapshotArn"
TARGET_SNAPSHOT_NAME = "TargetSnapshotName"
NAME_GENERATED = "NameGenerated"
KMS_KEY_ID = "KmsKeyId"
COPY_TAGS = "CopyTags"
TAGS = "Tags"
TIMEOUT_SECONDS = "TimeoutSeconds"
SERVICE_TOKEN = "ServiceToken"  # noqa: S105 - a property name
# CloudFormation passes the custom resource's ServiceTimeout in ResourceProperties too.
SERVICE_TIMEOUT = "ServiceTimeout"

ACCEPTED = (
    SERVICE_TOKEN,
    SERVICE_TIMEOUT,
    SOURCE_SNAPSHOT_ARN,
    TARGET_SNAPSHOT_NAME,
    NAME_GENERATED,
    KMS_KEY_ID,
    COPY_TAGS,
    TAGS,
    TIMEOUT_SECONDS,
    polling.POLLING_INTERVAL,
)

# Seconds from the first invocation until a copy must be ACTIVE (or gone, on delete).
MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 3300
DEFAULT_TIMEOUT_SECONDS = MAX_TIMEOUT_SECONDS
# CloudFormation's ServiceTimeout is the handler's timeout plus this margin, so that the handler's own
# FAILED answer (one polling interval and one invocation late at worst) reaches CloudFormation first.
SERVICE_TIMEOUT_MARGIN_SECONDS = 300


class InvalidProperties(ValueError):
    """The resource properties cannot describe a copy."""


@dataclass(frozen=True)
class CopyProperties:
    source_snapshot_arn: str
    target_snapshot_name: str
    name_generated: bool = False
    kms_key_id: str | None = None
    copy_tags: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    polling_interval: int = polling.DEFAULT_INTERVAL_SECONDS


def parse_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidProperties(f"{name} must be true or false, got {value!r}")


def parse_timeout(value: object) -> int:
    """The timeout in whole seconds, checked here as well as at synth: a timeout given as a token (a
    parameter, say) is only known at deploy time."""
    try:
        seconds = int(str(value))
    except ValueError:
        raise InvalidProperties(
            f"{TIMEOUT_SECONDS} (the CopiedSnapshot timeout) must be a whole number of seconds, got {value!r}"
        ) from None
    if not MIN_TIMEOUT_SECONDS <= seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidProperties(
            f"{TIMEOUT_SECONDS} (the CopiedSnapshot timeout) must be {MIN_TIMEOUT_SECONDS} to "
            f"{MAX_TIMEOUT_SECONDS} seconds, within CloudFormation's ServiceTimeout, got {seconds}"
        )
    return seconds


def _shape(value: object) -> str:
    """A value's JSON type, for reasons (never the value itself, which may be long)."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_tags(value: object) -> dict[str, str]:
    """CloudFormation's list of {Key, Value} as a dict; a plain mapping is accepted too."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs: list[object] = [{"Key": k, "Value": v} for k, v in value.items()]
    elif isinstance(value, list):
        pairs = value
    else:
        raise InvalidProperties(f"{TAGS} must be a list of {{Key, Value}}, got {_shape(value)}")
    tags: dict[str, str] = {}
    for index, pair in enumerate(pairs):
        if not isinstance(pair, Mapping) or set(pair) != {"Key", "Value"}:
            raise InvalidProperties(f"{TAGS}[{index}] must be {{Key, Value}}, got {_shape(pair)}")
        key, tag_value = pair["Key"], pair["Value"]
        if not isinstance(key, str) or not isinstance(tag_value, str):
            raise InvalidProperties(
                f"{TAGS}[{index}] must have a string Key and Value, got Key {_shape(key)} and Value "
                f"{_shape(tag_value)}"
            )
        if key in tags:
            raise InvalidProperties(f"tag key {key!r} is given twice")
        tags[key] = tag_value
    rules.check_tags(tags)
    return tags


def _unchecked_tags(value: object) -> dict[str, str]:
    """Whatever {Key, Value} pairs can be read from `value`, whatever its shape."""
    if isinstance(value, Mapping):
        return {str(key): str(tag_value) for key, tag_value in value.items()}
    if not isinstance(value, list):
        return {}
    return {
        str(pair.get("Key")): str(pair.get("Value"))
        for pair in value
        if isinstance(pair, Mapping) and pair.get("Key") is not None
    }


def read_unchecked(raw: object) -> CopyProperties:
    """The properties as they are, without any check: for the old side of an Update, which may be the
    values a failed update was refused for (CloudFormation's rollback swaps old and new)."""
    if not isinstance(raw, Mapping):
        raw = {}
    return CopyProperties(
        source_snapshot_arn=str(raw.get(SOURCE_SNAPSHOT_ARN, "")),
        target_snapshot_name=str(raw.get(TARGET_SNAPSHOT_NAME, "")),
        name_generated=str(raw.get(NAME_GENERATED, "false")).lower() == "true",
        kms_key_id=str(raw[KMS_KEY_ID]) if raw.get(KMS_KEY_ID) else None,
        copy_tags=str(raw.get(COPY_TAGS, "false")).lower() == "true",
        tags=_unchecked_tags(raw.get(TAGS)),
    )


def read_timeout(raw: object) -> object:
    """The timeout as sent, from properties of any shape (a Delete reads it even from refused ones)."""
    if isinstance(raw, Mapping):
        return raw.get(TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS)
    return DEFAULT_TIMEOUT_SECONDS


# CloudFormation's default ServiceTimeout, when the template gives none (1 to 3600 seconds).
DEFAULT_SERVICE_TIMEOUT_SECONDS = 3600


def service_timeout(raw: object) -> int:
    """How long CloudFormation waits for an answer, from the ServiceTimeout it passes along; its default
    (or the longest it allows) when missing or unreadable."""
    value = raw.get(SERVICE_TIMEOUT) if isinstance(raw, Mapping) else None
    try:
        seconds = int(str(value))
    except ValueError:
        return DEFAULT_SERVICE_TIMEOUT_SECONDS
    return max(1, min(seconds, DEFAULT_SERVICE_TIMEOUT_SECONDS))


def parse_properties(raw: object) -> CopyProperties:
    """Checks and types the properties; raises InvalidProperties or rules.RuleViolation."""
    if not isinstance(raw, Mapping):
        raise InvalidProperties(f"ResourceProperties must be a map, got {_shape(raw)}")
    unknown = sorted(set(raw) - set(ACCEPTED))
    if unknown:
        raise InvalidProperties(
            f"unknown properties {', '.join(unknown)}; accepted are {', '.join(ACCEPTED)}"
        )
    for required in (SOURCE_SNAPSHOT_ARN, TARGET_SNAPSHOT_NAME):
        if not raw.get(required):
            raise InvalidProperties(f"{required} is required")
    source = str(raw[SOURCE_SNAPSHOT_ARN])
    rules.check_snapshot_arn(source)
    name = str(raw[TARGET_SNAPSHOT_NAME])
    rules.check_name(name)
    kms_key_id = raw.get(KMS_KEY_ID)
    return CopyProperties(
        source_snapshot_arn=source,
        target_snapshot_name=name,
        name_generated=parse_bool(raw.get(NAME_GENERATED, False), NAME_GENERATED),
        kms_key_id=str(kms_key_id) if kms_key_id else None,
        copy_tags=parse_bool(raw.get(COPY_TAGS, False), COPY_TAGS),
        tags=parse_tags(raw.get(TAGS)),
        timeout_seconds=parse_timeout(raw.get(TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS)),
        polling_interval=_parse_interval(raw.get(polling.POLLING_INTERVAL, polling.DEFAULT_INTERVAL_SECONDS)),
    )


def _parse_interval(value: object) -> int:
    try:
        return polling.parse_interval(value)
    except polling.InvalidInterval as error:
        raise InvalidProperties(str(error)) from None
