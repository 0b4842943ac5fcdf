"""The crhelper internals the handler overrides or calls, held to their signatures in crhelper 2.0.12.

`CopyResource` replaces private hooks of crhelper's CfnResource. A crhelper release that renames, drops or
changes one of them would silently bypass the override (crhelper would run its own code): these tests fail
first, naming the hook.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from crhelper import resource_helper

from copied_snapshot_runtime.resource import CopyResource

CfnResource: Any = resource_helper.CfnResource

# Overridden by CopyResource: name -> crhelper's parameters (names and defaults, `self` left out).
OVERRIDDEN = {
    "__init__": "(json_logging=False, log_level='DEBUG', boto_level='ERROR', polling_interval=2, "
    "sleep_on_delete=120, ssl_verify=None)",
    "__call__": "(event, context)",
    "_wrap_function": "(func)",
    "_send": "(status=None, reason='', send_response=<function _send_response>)",
    "_polling_init": "(event)",
    "_setup_polling": "()",
    "_poll_enabled": "()",
    "_set_timeout": "()",
    "_timeout": "()",
    "_put_rule": "()",
    "_put_targets": "(func_name)",
    "_add_permission": "(rule_arn)",
    "_remove_permission": "(sid)",
    "_remove_targets": "(rule_arn)",
    "_delete_rule": "(rule_arn)",
    "generate_physical_id": "(event)",
}
# Called by CopyResource (or by crhelper on its behalf, in the order the overrides rely on).
CALLED = {
    "_log_setup": "(event, context)",
    "_crhelper_init": "(event, context)",
    "_cfn_response": "(event)",
    "_remove_polling": "()",
    "_rand_string": "(l)",
    "create": "(func)",
    "update": "(func)",
    "delete": "(func)",
    "poll_create": "(func)",
    "poll_update": "(func)",
    "poll_delete": "(func)",
}


def parameters(function: object) -> str:
    """A signature as text without `self`, with function defaults shown by name only."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    shown = []
    for parameter in signature.parameters.values():
        if parameter.name == "self":
            continue
        if parameter.default is inspect.Parameter.empty:
            shown.append(parameter.name)
        elif inspect.isfunction(parameter.default):
            shown.append(f"{parameter.name}=<function {parameter.default.__name__}>")
        else:
            shown.append(f"{parameter.name}={parameter.default!r}")
    return "(" + ", ".join(shown) + ")"


@pytest.mark.parametrize(("name", "expected"), sorted({**OVERRIDDEN, **CALLED}.items()))
def test_crhelper_still_has_the_hook_with_its_signature(name: str, expected: str) -> None:
    hook = getattr(CfnResource, name, None)
    assert hook is not None, f"crhelper's CfnResource no longer has {name}"
    assert parameters(hook) == expected, f"crhelper's CfnResource.{name} changed its signature"


def test_every_override_is_listed() -> None:
    """A new override must be added to OVERRIDDEN, so that an upgrade checks it too."""
    overridden = {
        name for name in vars(CopyResource) if name in vars(CfnResource) and callable(vars(CfnResource)[name])
    }
    assert overridden == set(OVERRIDDEN)


@pytest.mark.parametrize("name", sorted(set(OVERRIDDEN) - {"__init__"}))
def test_overrides_accept_what_crhelper_passes(name: str) -> None:
    """Each override takes at least crhelper's parameters, under the same names."""
    ours = inspect.signature(getattr(CopyResource, name)).parameters
    theirs = inspect.signature(getattr(CfnResource, name)).parameters
    assert list(theirs) == list(ours)[: len(theirs)]


def test_crhelper_still_sets_the_instance_state_the_adapter_writes() -> None:
    """The attributes crhelper's own code reads after `_wrap_function`, set in its `_crhelper_init`."""
    source = inspect.getsource(CfnResource._crhelper_init)
    for attribute in ("Status", "Reason", "PhysicalResourceId", "Data", "_event", "_response_url"):
        assert f"self.{attribute} =" in source, attribute
    calls = inspect.getsource(CfnResource.__call__)
    assert calls.index("_crhelper_init") < calls.index("_poll_enabled") < calls.index("_polling_init")
    assert "self._wrap_function(self._get_func())" in source
