"""`stackstep discover`: what each host runs, read over SSH. Changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stackstep.cli import exit_codes
from stackstep.cli.common import load_all, run_discovery
from stackstep.cli.main import handle_errors
from stackstep.report.discovery_text import render_discovery


@click.command()
@click.option(
    "-i",
    "--inventory",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="stackstep YAML inventory, or an Ansible INI/YAML inventory.",
)
@click.option(
    "--catalog",
    "catalog_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="extra catalog file(s).",
)
@click.option(
    "--known-hosts",
    type=click.Path(dir_okay=False),
    help="known_hosts file to verify host keys against (default ~/.ssh).",
)
@click.option(
    "--accept-new-host-keys",
    is_flag=True,
    help="trust and record keys of hosts not yet in known_hosts.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="hosts read at once.",
)
@click.option("--json", "as_json", is_flag=True, help="print as JSON.")
@handle_errors
def discover(as_json: bool, **kw: Any) -> None:
    """Connect to every host and show OS, package manager, services, versions, kernels.

    Exit 3 when a host could not be read (all are still shown).
    """
    catalog, inventory = load_all(kw["inventory"], kw["catalog_files"])
    found = run_discovery(inventory, catalog, kw)
    if as_json:
        click.echo(json.dumps({"hosts": [d.to_json() for d in found]}, indent=2))
    else:
        click.echo(render_discovery(found), nl=False)
    if any(d.error for d in found):
        raise SystemExit(exit_codes.BLOCKED)
