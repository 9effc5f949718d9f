"""`stackstep demo`: the lab, a Grizzly cloud on it, and its upgrade to Havana, live."""

from __future__ import annotations

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
from stackstep.report.plan_text import render_plan
from stackstep.session import RunRequest, prepare
from stackstep.transport.base import TransportOptions

# how `stackstep upgrade --yes` runs it: default state directory, no failure tolerated
RUN_OPTIONS = {"state_dir": None, "max_fail_percent": 0.0, "as_json": False}


@click.command()
@click.option("--hosts", "spec", default=SEED_LAYOUT, show_default=True, help="lab hosts.")
@handle_errors
def demo(spec: str) -> None:
    """Lab up, deploy Grizzly, upgrade it to Havana one service at a time (needs root)."""
    require_root()
    started = time.monotonic()
    the_lab = Lab()
    if not the_lab.golden_cached():
        click.echo("building the lab's golden image (once, a few minutes)...")
    click.echo("deploying a Grizzly cloud on the lab...")
    done = deploy(the_lab, "havana", spec)
    click.echo(f"deployed in {done.seconds:.1f} s: {done.inventory}")
    prepared = prepare(RunRequest(Path(done.inventory)), discover=TransportOptions())
    click.echo(render_plan(prepared.plan, footer=""), nl=False)
    journal = Journal(default_state_dir())
    run_id = begin_run(journal, prepared)
    code = carry_out(prepared, journal, run_id, RUN_OPTIONS)
    click.echo(f"demo finished in {time.monotonic() - started:.1f} s")
    sys.exit(code)
