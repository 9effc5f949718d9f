"""Every subcommand, registered on the `stackstep` group."""

from __future__ import annotations

import click

from stackstep.cli.catalog_cmd import catalog
from stackstep.cli.plan_cmd import plan


def register(group: click.Group) -> None:
    for command in (plan, catalog):
        group.add_command(command)
