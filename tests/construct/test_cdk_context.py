"""Template tests synthesize with the app's own cdk.json context, so they check what the app ships."""

from __future__ import annotations

import json

from tests.support.apps import new_app
from tests.support.constants import CDK_JSON


def test_test_apps_carry_every_feature_flag_of_cdk_json() -> None:
    shipped = json.loads(CDK_JSON.read_text())["context"]
    app = new_app()
    assert shipped
    assert {key: app.node.try_get_context(key) for key in shipped} == shipped
