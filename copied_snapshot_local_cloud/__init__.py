"""The project's offline stand-in for AWS: a wire-compatible docdb-elastic service (`docdb_elastic`) and a
local cloud (`cloud.LocalCloud`) that deploys synthesized CDK apps to it, running their Lambda handlers."""
