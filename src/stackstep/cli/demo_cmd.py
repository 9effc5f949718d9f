"""`stackstep demo`: the lab, a Grizzly cloud on it, and its upgrade to Havana, live."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from stackstep.cli.main import handle_errors
from stackstep.cli.upgrade_cmd import begin_run, carry_out
from stackstep.engine.journal import Journal, default_state_dir
from stackstep.lab.lab import SEED_LAYOUT, Lab
from stackstep.lab.openstack.deploy import deploy
from stackstep.lab.system import require_root
from stackstep.model.plan import Plan
from stackstep.report.plan_text import plan_outline, render_plan
from stackstep.session import RunRequest, prepare
from stackstep.transport.base import TransportOptions

# how `stackstep upgrade --yes` runs it: default state directory, no failure tolerated
RUN_OPTIONS = {"state_dir": None, "max_fail_percent": 0.0, "as_json": False}

GOING_ON = (
    "Upgrading the cloud now: this changes it. Ctrl-C lets the running steps finish and "
    "stops; `stackstep resume` goes on from there."
)


def plan_before_run(plan: Plan, inventory: Path, *, short: bool) -> str:
    """What the demo shows before it upgrades: the plan (``short``: its outline and the
    command that prints the whole tree), then that it is about to change the cloud."""
    if not short:
        return render_plan(plan, footer="") + "\n" + GOING_ON + "\n"
    whole = f"stackstep plan -i {shlex.quote(str(inventory))} --discover"
    return (
        f"{plan_outline(plan)}\nthe whole plan, step by step: {whole} "
        f"(before the upgrade), or `stackstep demo --full-plan`\n\n{GOING_ON}\n"
    )


@click.command()
@click.option("--hosts", "spec", default=SEED_LAYOUT, show_default=True, help="lab hosts.")
@click.option(
    "--full-plan",
    is_flag=True,
    help="show the whole plan tree before the run (default on a terminal: its outline).",
)
@handle_errors
def demo(spec: str, full_plan: bool) -> None:
    """Lab up, deploy Grizzly, upgrade it to Havana one service at a time (needs root).

    Ends with the measured downtime per service and the path of the run's report."""
    require_root()
    started = time.monotonic()
    the_lab = Lab()
    if not the_lab.golden_cached():
        click.echo("building the lab's golden image (once, a few minutes)...")
    click.echo("deploying a Grizzly cloud on the lab...")
    done = deploy(the_lab, "havana", spec)
    click.echo(f"deployed in {done.seconds:.1f} s: {done.inventory}")
    prepared = prepare(RunRequest(Path(done.inventory)), discover=TransportOptions())
    short = sys.stdout.isatty() and not full_plan
    click.echo(plan_before_run(prepared.plan, Path(done.inventory), short=short), nl=False)
    journal = Journal(default_state_dir())
    run_id = begin_run(journal, prepared)
    code = carry_out(prepared, journal, run_id, RUN_OPTIONS)
    click.echo(f"demo finished in {time.monotonic() - started:.1f} s")
    sys.exit(code)
