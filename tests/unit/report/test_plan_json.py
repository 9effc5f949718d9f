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


# -- the text of `stackstep plan --json` (report/plan_json.py: a faster json.dumps) --------


def _discovered(plan_facts):
    """Facts as discovery gives them: every host with packages, the last one behind."""
    from dataclasses import replace

    from stackstep.model.facts import Facts

    hosts = []
    for n, host in enumerate(plan_facts.hosts):
        versions = {f"python-lib{i}": "0:1.0-1" for i in range(50)}
        versions |= {"openstack-nova-compute": "0:2013.1.4-1.el6", "openstack-glance": "0:1-1"}
        if n == len(plan_facts.hosts) - 1:
            versions["openstack-nova-compute"] = "0:2013.1.3-2.el6"
        hosts.append(replace(host, versions=versions))
    return Facts(tuple(hosts), "discovery")


@pytest.mark.parametrize(
    ("example", "options", "discovered"),
    [
        ("all-in-one.yaml", {}, False),
        ("rdo-seed.yaml", {"strategy": "all-at-once"}, False),
        ("rdo-seed.yaml", {}, True),
        ("ha-3-controllers-20-computes.yaml", {}, False),
        ("ha-3-controllers-20-computes.yaml", {"backup": False, "prefetch": False}, True),
        ("ubuntu-apt.yaml", {}, False),
    ],
)
def test_plan_json_is_exactly_json_dumps_of_the_plan(catalog, example, options, discovered):
    from stackstep.inventory.loader import load_inventory
    from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
    from stackstep.planner.select import resolve_releases, resolve_series
    from stackstep.report.plan_json import plan_json
    from stackstep_testing import EXAMPLES

    inventory = load_inventory(EXAMPLES / example, catalog.ansible_group_map())
    opts = PlanOptions(**options)
    src, dst = resolve_releases(catalog, inventory, opts)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    facts = _discovered(facts) if discovered else facts
    plan = build_plan(inventory, catalog, facts, opts)
    text = plan_json(plan)
    assert text == json.dumps(plan.to_dict(), indent=2)
    assert json.loads(text)["hash"] == plan.hash


ODD_VALUES = [
    {},
    [],
    {"data": {}, "commands": []},
    {"a": [1, 2.5, -0.0, 1e300, 1e-7, 10**30, True, False, None]},
    {"text": 'é\n"x\u2028\\ \x00', "ключ": ["ü"]},
    {"data": {"x": [1, {}], "y": "z"}, "n": [{"data": {"x": [1, {}], "y": "z"}}]},
    {"data": [{"a": 1}], "x": {"data": [{"a": 1}]}},  # the same value at two depths
    ("a", ("b", 1)),
    {"z": 1, "a": 2},
    {"nan": float("nan"), "inf": [float("inf")]},
    {1: "int key", None: "null key"},
    {"data": {2.5: "float key"}},
    "only a string",
    7,
    None,
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=range(len(ODD_VALUES)))
def test_indented_text_equals_json_dumps_for_any_value(value):
    from enum import StrEnum

    from stackstep.report.plan_json import dumps_indented

    class Kind(StrEnum):
        A = "a"

    for candidate in (value, [value, Kind.A, {"k": Kind.A}]):
        expected = json.dumps(candidate, indent=2)
        assert dumps_indented(candidate, reuse=("data", "commands")) == expected
        assert dumps_indented(candidate) == expected


def test_values_json_cannot_write_fail_the_same_way():
    from stackstep.report.plan_json import dumps_indented

    with pytest.raises(TypeError):
        json.dumps({"data": {1, 2}}, indent=2)
    with pytest.raises(TypeError):
        dumps_indented({"data": {1, 2}}, reuse=("data",))


def test_step_data_in_the_json_is_a_copy_read_back_as_json():
    from stackstep.model.params import Probe, VerifyParams
    from stackstep.model.plan import Step, StepKind, plain_json

    data = {"units": ("a", "b"), "probe": {"url": "u", "expect": (200,)}}
    params = VerifyParams(("a", "b"), Probe("u", (200,)))
    step = Step("a/b", StepKind.VERIFY, "t", "h", params=params)
    out = step.to_dict()["data"]
    assert out == json.loads(json.dumps(data))
    assert isinstance(out, dict)
    out["units"].append("c")  # changing the JSON form leaves the step alone
    assert step.params.units == ("a", "b")
    odd = {"n": {1: "x"}, **data}
    assert plain_json(odd) == json.loads(json.dumps(odd))
