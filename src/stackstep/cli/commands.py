"""Every subcommand, registered on the `stackstep` group."""

from __future__ import annotations

import click

from stackstep.cli.catalog_cmd import catalog
from stackstep.cli.configs_cmd import configs
from stackstep.cli.demo_cmd import demo
from stackstep.cli.discover_cmd import discover
from stackstep.cli.lab_cmd import lab
from stackstep.cli.plan_cmd import plan
from stackstep.cli.preflight_cmd import preflight
from stackstep.cli.reboot_cmd import reboot
from stackstep.cli.restore_cmd import restore
from stackstep.cli.run_cmd import resume, runs, status, upgrade


def register(group: click.Group) -> None:
    for command in (
        demo,
        discover,
        preflight,
        plan,
        upgrade,
        resume,
        restore,
        reboot,
        status,
        runs,
        configs,
        catalog,
        lab,
    ):
        group.add_command(command)
