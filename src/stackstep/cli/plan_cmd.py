"""`stackstep plan`: the dry run."""

from __future__ import annotations

from typing import Any

import click

from stackstep.cli.common import plan_options, prepare
from stackstep.cli.main import gc_paused, handle_errors
from stackstep.report.plan_json import write_plan_json
from stackstep.report.plan_text import render_plan


@click.command()
@plan_options
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON (docs/plan-json.md).")
@click.option("--expand", is_flag=True, help="show every host's step on its own line.")
@click.option(
    "--discover",
    "with_discovery",
    is_flag=True,
    help="read the hosts (SSH) and plan from what they run, not the inventory alone.",
)
@click.option(
    "--known-hosts",
    type=click.Path(dir_okay=False),
    help="with --discover: known_hosts file (default ~/.ssh/known_hosts).",
)
@click.option(
    "--accept-new-host-keys",
    is_flag=True,
    help="with --discover: trust and record keys of new hosts.",
)
@handle_errors
def plan(as_json: bool, expand: bool, with_discovery: bool, **kw: Any) -> None:
    """Show exactly what an upgrade would do. Changes nothing.

    Without --discover it reads only the inventory (no host is contacted).
    """
    with gc_paused():
        result = prepare(kw, discovered=with_discovery).plan
        if as_json:  # in parts: a 5,000-host plan is 70 MB of text
            write_plan_json(result, lambda text: click.echo(text, nl=False))
            click.echo("")
        else:
            click.echo(render_plan(result, expand=expand), nl=False)
