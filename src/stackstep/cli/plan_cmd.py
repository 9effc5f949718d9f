"""`stackstep plan`: the dry run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from stackstep.cli import options as opt
from stackstep.cli.main import gc_paused, handle_errors

if TYPE_CHECKING:
    from stackstep.session import Prepared


@click.command()
@opt.plan_options
@opt.as_json("print the plan as JSON (docs/plan-json.md).")
@click.option("--expand", is_flag=True, help="show every host's step on its own line.")
@click.option(
    "--discover",
    "with_discovery",
    is_flag=True,
    help="read the hosts (SSH) and plan from what they run, not the inventory alone.",
)
@opt.known_hosts("with --discover: known_hosts file (default ~/.ssh/known_hosts).")
@opt.accept_new_host_keys("with --discover: trust and record keys of new hosts.")
@handle_errors
def plan(as_json: bool, expand: bool, with_discovery: bool, **kw: Any) -> None:
    """Show exactly what an upgrade would do. Changes nothing.

    Without --discover it reads only the inventory (no host is contacted).
    """
    # imported here: `stackstep plan --help` needs none of it (bench/cli_startup.py)
    from stackstep.report.plan_json import write_plan_json  # noqa: PLC0415
    from stackstep.report.plan_text import render_plan  # noqa: PLC0415
    from stackstep.session import prepare  # noqa: PLC0415

    with gc_paused():
        discover = opt.transport_options(kw) if with_discovery else None
        prepared = prepare(opt.run_request(kw), discover=discover)
        result = prepared.plan
        if as_json:  # in parts: a 5,000-host plan is 70 MB of text
            write_plan_json(result, lambda text: click.echo(text, nl=False))
            click.echo("")
        else:
            endpoints = _endpoints(prepared)
            click.echo(render_plan(result, expand=expand, endpoints=endpoints), nl=False)


def _endpoints(prepared: Prepared) -> list[str]:
    """The load-balanced endpoints a run of this plan probes (``keystone via URL``), as the
    run finds them (only an inventory that declares some pays for the engine's import)."""
    if not (prepared.inventory.endpoints or prepared.inventory.vip):
        return []
    from stackstep.engine.prober import probe_targets  # noqa: PLC0415

    targets = probe_targets(prepared.plan.steps(), prepared.inventory)
    return [t.target.label for t in targets if t.target.endpoint]
