"""Environment variables the construct sets on the handler function and the handler reads."""

POLL_RULE_PREFIX_ENV = "POLL_RULE_PREFIX"
DEFAULT_POLL_RULE_PREFIX = "CopiedSnapshot-"
FUNCTION_TIMEOUT_ENV = "FUNCTION_TIMEOUT_SECONDS"  # the handler function's own timeout (Lambda does not say)
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 900  # Lambda's largest timeout: the safe guess when not told
