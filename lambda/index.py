"""Lambda entry point (`index.handler`) of the CopiedSnapshot custom resource."""

from copied_snapshot_runtime.handler import handler

__all__ = ["handler"]
