"""The project's offline stand-in for AWS: a wire-compatible docdb-elastic service, for tests and demos."""
