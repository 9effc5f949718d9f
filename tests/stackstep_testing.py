"""Shared test helpers (importable from any test: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import re
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


def downtime_rows(lines: list[str]) -> dict[str, list[str]]:
    """The end-of-run downtime table (report/summary.py) as a user reads it: each row's
    first cell (a service, or ``via URL`` for its endpoint) -> its other cells."""
    start = next(i for i, line in enumerate(lines) if line.startswith("downtime, measured"))
    head = "service  outage (s)  windows  floor (s)  outage/floor"
    assert re.split(r"\s{2,}", lines[start + 1].strip()) == head.split("  "), lines[start + 1]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("  ") or line.startswith("  not measured"):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows
