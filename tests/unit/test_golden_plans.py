"""Golden plans: every example's rendered text and JSON, reviewed by hand once.

A deliberate change to planning or rendering: `make golden`, then read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stackstep_testing import EXAMPLES, plan_from_path

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
CASES = {
    "all-in-one": ("all-in-one.yaml", {}),
    "rdo-seed": ("rdo-seed.yaml", {}),
    "rdo-seed-all-at-once": ("rdo-seed.yaml", {"strategy": "all-at-once"}),
    "ha-3-controllers-20-computes": ("ha-3-controllers-20-computes.yaml", {}),
    "ha-3-controllers-20-computes-service-by-service": (
        "ha-3-controllers-20-computes.yaml",
        {"strategy": "service-by-service"},
    ),
    "no-quantum": ("no-quantum.yaml", {}),
    "ubuntu-apt": ("ubuntu-apt.yaml", {}),
    "ansible-ini": ("ansible/hosts.ini", {"from_release": "grizzly", "to_release": "havana"}),
}


def _check(path: Path, actual: str) -> None:
    if os.environ.get("STACKSTEP_UPDATE_GOLDEN"):
        path.write_text(actual)
    assert path.exists(), f"no golden file {path.name}: run `make golden` and review it"
    assert actual == path.read_text(), f"{path.name} changed: run `make golden`, review the diff"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_plan_matches_golden(name, catalog):
    from stackstep.report.plan_text import render_plan

    example, options = CASES[name]
    plan = plan_from_path(EXAMPLES / example, catalog, **options)
    _check(GOLDEN / f"{name}.txt", render_plan(plan))


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_plan_matches_golden(name, catalog):
    example, options = CASES[name]
    plan = plan_from_path(EXAMPLES / example, catalog, **options)
    text = json.dumps(plan.to_dict(), indent=2) + "\n"
    _check(GOLDEN / f"{name}.json", text)


def test_every_example_has_a_golden_case():
    examples = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()}
    assert examples == {case[0] for case in CASES.values()}
