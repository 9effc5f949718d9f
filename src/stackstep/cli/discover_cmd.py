"""`stackstep discover`: what each host runs, read over SSH. Changes nothing."""

from __future__ import annotations

import json
from typing import Any

import click

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors


@click.command()
@opt.inventory()
@opt.catalog_files("extra catalog file(s).")
@opt.host_keys
@opt.parallel(20, "hosts read at once.")
@opt.as_json()
@handle_errors
def discover(as_json: bool, **kw: Any) -> None:
    """Connect to every host and show OS, package manager, services, versions, kernels.

    Exit 3 when a host could not be read (all are still shown).
    """
    from stackstep.report.discovery_text import render_discovery  # noqa: PLC0415
    from stackstep.session import load_all, run_discovery  # noqa: PLC0415

    catalog, inventory = load_all(kw["inventory"], kw["catalog_files"])
    found = run_discovery(inventory, catalog, opt.transport_options(kw), kw["parallel"])
    if as_json:
        click.echo(json.dumps({"hosts": [d.to_json() for d in found]}, indent=2))
    else:
        click.echo(render_discovery(found), nl=False)
    if any(d.error for d in found):
        raise SystemExit(exit_codes.BLOCKED)
