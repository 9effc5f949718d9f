"""The text plan shows every name on its own line: control characters are escaped."""

from __future__ import annotations

from stackstep.model.inventory import Host, Inventory
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.report.plan_text import DRY_RUN_FOOTER, plan_outline, render_plan
from stackstep_testing import EXAMPLES, plan_from_path


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


def _rdo_seed(catalog):
    return plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)


def test_a_plan_shown_before_a_run_does_not_say_nothing_has_been_changed(catalog):
    """upgrade and demo show the plan, then change the cloud: no dry-run footer then."""
    plan = _rdo_seed(catalog)
    assert render_plan(plan).rstrip().endswith(DRY_RUN_FOOTER)  # `stackstep plan`
    shown = render_plan(plan, footer="")
    assert "Nothing has been changed" not in shown
    assert shown.rstrip().splitlines()[-1].lstrip().startswith(("-", "$"))  # the tree's end


def test_the_outline_counts_each_phase_and_service_of_the_plan(catalog):
    plan = _rdo_seed(catalog)
    text = plan_outline(plan)
    lines = text.splitlines()
    assert lines[:3] == render_plan(plan).splitlines()[:3]  # the same head
    assert "1. preflight: every problem at once: 6 steps on " in text
    keystone = next(line for line in lines if "Identity (keystone)" in line)
    steps = [s for s in plan.steps() if s.id.startswith("services/keystone/")]
    assert keystone == f"  3.1. Identity (keystone): {len(steps)} steps on controller"
    nova = next(line for line in lines if "Compute (nova)" in line)
    assert "controller, compute[1:3]" in nova or "compute[1:3], controller" in nova
    # every step counted once across the phases
    phases = [line for line in lines if line[:1].isdigit()]
    assert len(phases) == len(plan.root.children)
    counted = sum(int(line.split(": ")[-1].split(" step")[0]) for line in phases)
    assert counted == len(list(plan.steps()))
    assert len(lines) < 25 and len(text) < len(render_plan(plan)) / 5
    assert "$ " not in text and "Nothing has been changed" not in text


def test_the_outline_names_host_ranges_and_counts_hosts_past_a_few(catalog):
    lines = plan_outline(
        plan_from_path(
            EXAMPLES / "ha-3-controllers-20-computes.yaml", catalog, strategy="service-by-service"
        )
    ).splitlines()
    assert "  6.2. the other hosts: 20 steps on compute[01:20]" in lines
    assert "  3.1. Identity (keystone, in httpd/apache2): 15 steps on ctl[1:3]" in lines
    hosts = ("db", "mq", "lb", "mon", "log")
    steps = tuple(Step(f"x/{h}", StepKind.PREFLIGHT, "check", h) for h in hosts)
    plan = Plan(
        "c",
        "a",
        "b",
        "rolling",
        Group("root", "root", "sequential", (Group("p", "preflight", "parallel", steps),)),
    )
    assert "1. preflight: 5 steps on 5 hosts" in plan_outline(plan).splitlines()


def test_declared_endpoints_are_named_before_the_footer(catalog):
    plan = _rdo_seed(catalog)
    endpoints = ["glance via http://192.0.2.6:9292/", "keystone via http://192.0.2.5:5000/v3"]
    text = render_plan(plan, endpoints=endpoints)
    assert text.rstrip().splitlines()[-4:] == [
        "load-balanced endpoints probed during the run (besides each API's hosts):",
        "  - glance via http://192.0.2.6:9292/",
        "  - keystone via http://192.0.2.5:5000/v3",
        DRY_RUN_FOOTER,
    ]
    assert "endpoints probed" not in render_plan(plan)  # none declared: the plan as before
