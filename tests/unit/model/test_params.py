"""Typed step parameters and commands read back from a stored plan give the same JSON,
and a command's environment is part of the plan (its JSON and its hash)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.model.command import Command, Secret
from stackstep.model.params import PARAMS_OF, VerifyParams, params_from_json
from stackstep.model.plan import Group, Plan, Step, StepKind, step_from_json, steps_from_json

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = sorted((ROOT / "tests" / "data" / "golden").glob("*.json"))


def _nodes(node: dict) -> Iterator[dict]:
    if node["type"] == "step":
        yield node
    for child in node.get("children", []):
        yield from _nodes(child)


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_every_golden_step_reads_back_to_the_same_json(path):
    plan = json.loads(path.read_text())
    nodes = list(_nodes(plan["root"]))
    assert {n["kind"] for n in nodes} <= set(PARAMS_OF)
    for node in nodes:
        assert step_from_json(node).to_dict() == node
    assert [s.id for s in steps_from_json(plan["root"])] == [n["id"] for n in nodes]


def test_every_kind_of_step_has_typed_parameters():
    assert set(PARAMS_OF) == {str(k) for k in StepKind}


@pytest.mark.parametrize("kind", sorted(PARAMS_OF))
@pytest.mark.parametrize("data", [{}, None, [], {"units": "x", "probe": 3, "params": [1]}])
def test_parameters_from_an_odd_journal_read_as_defaults(kind, data):
    params = params_from_json(kind, data)
    assert json.loads(json.dumps(params.to_json())) == params.to_json()


def test_a_command_without_environment_is_its_argv_list():
    assert Command(("apt-get", "update")).to_json() == ["apt-get", "update"]


def test_a_command_with_environment_keeps_it_in_the_json_and_masks_secrets():
    command = Command(("mysql", "-p", Secret("hunter2")), (("LANG", "C"), ("PW", Secret("x"))))
    value = command.to_json()
    assert value == {"env": {"LANG": "C", "PW": "******"}, "argv": ["mysql", "-p", "******"]}
    back = Command.from_json(json.loads(json.dumps(value)))
    assert back.env == (("LANG", "C"), ("PW", "******"))
    assert back.argv == ("mysql", "-p", "******")


def _plan(env: tuple[tuple[str, str], ...]) -> Plan:
    step = Step(
        "services/x/h/upgrade-packages",
        StepKind.UPGRADE_PACKAGES,
        "upgrade",
        "h",
        "x",
        (Command(("apt-get", "-y", "install"), env),),
    )
    return Plan("c", "a", "b", "service-by-service", Group("plan", "p", "sequential", (step,)))


def test_an_environment_change_changes_the_plan_json_and_its_hash():
    quiet = _plan((("DEBIAN_FRONTEND", "noninteractive"),))
    asking = _plan((("DEBIAN_FRONTEND", "readline"),))
    assert quiet.to_dict()["root"] != asking.to_dict()["root"]
    assert quiet.hash != asking.hash != _plan(()).hash


def test_verify_parameters_keep_their_keys_in_order():
    params = VerifyParams(("a",), smoke=("true",))
    assert list(params.to_json()) == ["units", "smoke"]
    assert params_from_json("verify", params.to_json()) == params
