"""What `stackstep demo` shows before it upgrades the lab's cloud: on a terminal the
plan's outline and the command that prints the whole tree; never "Nothing has been
changed" right before it changes the cloud."""

from __future__ import annotations

from pathlib import Path

from stackstep.cli.demo_cmd import GOING_ON, plan_before_run
from stackstep.report.plan_text import plan_outline, render_plan
from stackstep_testing import EXAMPLES, plan_from_path


def test_on_a_terminal_the_demo_shows_the_outline_and_the_whole_plan_command(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    text = plan_before_run(plan, Path("/var/lib/lab dir/cloud-havana.yaml"), short=True)
    assert text.startswith(plan_outline(plan))
    whole = "stackstep plan -i '/var/lib/lab dir/cloud-havana.yaml' --discover"
    assert f"the whole plan, step by step: {whole} (before the upgrade)" in text
    assert "Nothing has been changed" not in text
    assert text.rstrip().endswith(GOING_ON)
    assert len(text.splitlines()) < 30


def test_the_full_plan_is_the_tree_then_that_the_cloud_is_about_to_change(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    text = plan_before_run(plan, Path("cloud.yaml"), short=False)
    assert text.startswith(render_plan(plan, footer=""))
    assert "Nothing has been changed" not in text
    assert text.splitlines()[-1] == GOING_ON
