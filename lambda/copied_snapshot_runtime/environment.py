"""Environment variables the construct sets on the handler function and the handler reads."""

POLL_RULE_PREFIX_ENV = "POLL_RULE_PREFIX"
DEFAULT_POLL_RULE_PREFIX = "CopiedSnapshot-"
