"""`stackstep demo`: the lab, a Grizzly cloud on it, and its upgrade to Havana, live."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from stackstep.cli.common import prepare, request_json
from stackstep.cli.main import handle_errors
from stackstep.cli.run_cmd import carry_out
from stackstep.engine.journal import Journal, default_state_dir
from stackstep.lab.lab import SEED_LAYOUT, Lab
from stackstep.lab.openstack.deploy import deploy
from stackstep.lab.system import require_root
from stackstep.model.facts import facts_to_json
from stackstep.report.plan_text import render_plan


def upgrade_options(inventory: str) -> dict[str, Any]:
    return {
        "inventory": inventory,
        "from_release": None,
        "to_release": None,
        "strategy": "service-by-service",
        "only": (),
        "skip": (),
        "parallel": 20,
        "no_prefetch": False,
        "no_backup": False,
        "catalog_files": (),
        "state_dir": None,
        "max_fail_percent": 0.0,
        "known_hosts": None,
        "accept_new_host_keys": False,
        "yes": True,
        "as_json": False,
        "no_discover": False,
    }


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
    kw = upgrade_options(str(done.inventory))
    prepared = prepare(kw, discovered=True)
    click.echo(render_plan(prepared.plan, footer=""), nl=False)
    journal = Journal(default_state_dir())
    run_id = journal.new_run(
        prepared.plan,
        facts_to_json(prepared.facts),
        request_json(kw),
        str(prepared.inventory.source),
        prepared.inventory.digest,
        prepared.catalog.digest,
    )
    code = carry_out(prepared, journal, run_id, kw)
    click.echo(f"demo finished in {time.monotonic() - started:.1f} s")
    sys.exit(code)
