"""The custom resource's life cycle, wired into crhelper: copy, wait for ACTIVE, retag, delete."""

from __future__ import annotations

from typing import Any

from copied_snapshot_runtime import copies, deletion
from copied_snapshot_runtime.invocation import helper

helper.create(copies.create)
helper.poll_create(copies.poll_create)
helper.update(copies.update)
helper.poll_update(copies.poll_update)
helper.delete(deletion.delete)
helper.poll_delete(deletion.poll_delete)


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
