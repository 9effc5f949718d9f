"""Every subcommand, registered on the `stackstep` group."""

from __future__ import annotations

import click

from stackstep.cli.catalog_cmd import catalog
from stackstep.cli.plan_cmd import plan
from stackstep.cli.run_cmd import resume, runs, status, upgrade


def register(group: click.Group) -> None:
    for command in (plan, catalog, upgrade, resume, status, runs):
        group.add_command(command)
