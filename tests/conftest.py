"""Shared fixtures: the shipped catalog, and planning from inventory text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stackstep.catalog import load_catalog
from stackstep.inventory.loader import load_inventory
from stackstep.model.catalog import Catalog
from stackstep.model.plan import Plan
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

PlanFor = Callable[..., Plan]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def plan_from_path(path: Path, catalog: Catalog, **options: object) -> Plan:
    inventory = load_inventory(path, catalog.ansible_group_map())
    opts = PlanOptions(**options)  # type: ignore[arg-type]
    src, dst = resolve_releases(catalog, inventory, opts)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    return build_plan(inventory, catalog, facts, opts)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(text: str, name: str = "cloud.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def plan_for(catalog: Catalog, write: Callable[[str, str], Path]) -> PlanFor:
    def _plan(text: str, **options: object) -> Plan:
        return plan_from_path(write(text, "cloud.yaml"), catalog, **options)

    return _plan
