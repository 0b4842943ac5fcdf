"""The service's modelled errors, raised by the state and fault layers and rendered by the wire layer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SNAPSHOT = "cluster-snapshot"
CLUSTER = "cluster"


@dataclass
class ServiceError(Exception):
    """An error answer: `code` is the modelled shape name, `members` its extra members."""

    code: str
    message: str
    members: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validation(
    message: str, reason: str = "other", fields: list[dict[str, str]] | None = None
) -> ServiceError:
    members: dict[str, Any] = {"reason": reason}
    if fields:
        members["fieldList"] = fields
    return ServiceError("ValidationException", message, members)


def not_found(resource_type: str, resource_id: str) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"The {resource_type} {resource_id} was not found",
        {"resourceId": resource_id, "resourceType": resource_type},
    )


def conflict(resource_type: str, resource_id: str, message: str) -> ServiceError:
    return ServiceError(
        "ConflictException", message, {"resourceId": resource_id, "resourceType": resource_type}
    )


def quota_exceeded(message: str) -> ServiceError:
    return ServiceError("ServiceQuotaExceededException", message)


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDeniedException", message)


def internal(message: str) -> ServiceError:
    return ServiceError("InternalServerException", message)


def throttled(operation: str, retry_after: float) -> ServiceError:
    return ServiceError(
        "ThrottlingException",
        f"Rate exceeded for {operation}",
        {"retryAfterSeconds": max(1, math.ceil(retry_after))},
    )


INJECTABLE = frozenset(
    {
        "ValidationException",
        "ServiceQuotaExceededException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ConflictException",
        "ThrottlingException",
        "InternalServerException",
    }
)


def injected(code: str, operation: str) -> ServiceError:
    """An error a fault rule asks for, with the members its shape requires."""
    message = f"{code} injected into {operation} by the local service's faults"
    if code == "ThrottlingException":
        return ServiceError(code, message, {"retryAfterSeconds": 1})
    if code in {"ResourceNotFoundException", "ConflictException"}:
        return ServiceError(code, message, {"resourceId": "injected", "resourceType": "injected"})
    if code == "ValidationException":
        return validation(message)
    return ServiceError(code, message)
