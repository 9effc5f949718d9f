"""Shared test helpers (importable from any test: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

from stackstep.inventory.loader import load_inventory
from stackstep.model.catalog import Catalog
from stackstep.model.plan import Plan
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def plan_from_path(path: Path, catalog: Catalog, **options: object) -> Plan:
    inventory = load_inventory(path, catalog.ansible_group_map())
    opts = PlanOptions(**options)  # type: ignore[arg-type]
    src, dst = resolve_releases(catalog, inventory, opts)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    return build_plan(inventory, catalog, facts, opts)
