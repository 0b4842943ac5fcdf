"""CopiedSnapshot: copy a DocumentDB Elastic cluster snapshot with the AWS CDK, and restore from the copy."""

# The package's version, read by the wheel's build (pyproject.toml: tool.hatch.version).
__version__ = "0.1.0"

from copied_snapshot.copied_snapshot import RESOURCE_TYPE, CopiedSnapshot, ICopiedSnapshot
from copied_snapshot.restored_cluster import RestoredCluster
from copied_snapshot_runtime.rules import RuleViolation

# One class, shared with the handler's rules, shown to users under the name they import it by.
RuleViolation.__module__ = __name__

__all__ = ["RESOURCE_TYPE", "CopiedSnapshot", "ICopiedSnapshot", "RestoredCluster", "RuleViolation"]
