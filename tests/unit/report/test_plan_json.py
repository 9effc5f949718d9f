"""`stackstep plan --json` follows the documented, versioned schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
GOLDEN = sorted((ROOT / "tests" / "data" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_json_plans_follow_the_schema(path):
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)


def test_schema_rejects_a_plan_without_hash():
    plan = json.loads(GOLDEN[0].read_text())
    del plan["hash"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(plan, SCHEMA)


def test_secrets_never_reach_the_json():
    from stackstep.model.command import Command, Secret
    from stackstep.model.plan import Step, StepKind

    step = Step(
        "a/b", StepKind.HOOK, "t", "h", commands=(Command(("mysql", "-p", Secret("hunter2"))),)
    )
    text = json.dumps(step.to_dict())
    assert "hunter2" not in text and "******" in text
    assert step.commands[0].reveal() == ["mysql", "-p", "hunter2"]
