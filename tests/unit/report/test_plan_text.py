"""The text plan shows every name on its own line: control characters are escaped."""

from __future__ import annotations

from stackstep.model.inventory import Host, Inventory
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.report.plan_text import render_plan


def test_a_newline_or_surrogate_in_a_host_name_cannot_fake_a_line(catalog):
    fake = "\n  1. ctl: FAKE STEP"
    inventory = Inventory(
        name="lab",
        source="built here",
        hosts=(Host(f"ctl\udc80{fake}", "127.0.0.1", roles=("controller",)),),
        release="grizzly",
    )
    options = PlanOptions()
    src, dst = resolve_releases(catalog, inventory, options)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    text = render_plan(build_plan(inventory, catalog, facts, options))
    assert "FAKE STEP" in text
    assert not any(line.lstrip().startswith("1. ctl: FAKE") for line in text.splitlines())
    assert "ctl\\udc80\\n  1. ctl: FAKE STEP" in text
    text.encode("utf-8")  # no lone surrogate left to crash the console or a file
