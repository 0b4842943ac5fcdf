"""The errors of deploying to the local cloud, under one base class, so that a caller catches one type.

Malformed templates and assemblies, failed resources and failed stacks are all `DeploymentError`s; the
engine turns what a provider or a template evaluation raises into one of them, never a KeyError or TypeError.
"""

from __future__ import annotations


class DeploymentError(Exception):
    """Something the local cloud could not deploy or destroy; the message says what and why."""


class TemplateError(DeploymentError, ValueError):
    """The template uses something this local CloudFormation cannot evaluate, or refers to nothing."""


class ResourceFailed(DeploymentError):
    """A resource could not be created, updated or deleted; the message is the status reason."""


class DeployFailed(DeploymentError, RuntimeError):
    """A stack could not be deployed or destroyed; the message is CloudFormation's status reason."""


class NotSent(ResourceFailed):
    """CloudFormation refused the change before asking anyone: the resource is as it was."""


class InvalidRequest(DeploymentError, ValueError):
    """A request to the local cloud names something it cannot act on (e.g. an ARN of the wrong kind)."""
