"""Every subcommand: where it lives and its one-line help, imported only when it runs.

Importing every command module costs most of a second (asyncssh, httpx, rich, the lab);
``stackstep plan`` needs none of that, and ``stackstep --help`` needs only the lines
below (tests/unit/cli/test_lazy_commands.py keeps them equal to the commands' own help).
"""

from __future__ import annotations

from importlib import import_module

import click

# name -> (module, short help: the first paragraph of the command's docstring)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "stackstep.cli.demo_cmd",
        "Lab up, deploy Grizzly, upgrade it to Havana one service at a time (needs root).",
    ),
    "discover": (
        "stackstep.cli.discover_cmd",
        "Connect to every host and show OS, package manager, services, versions, kernels.",
    ),
    "preflight": (
        "stackstep.cli.preflight_cmd",
        "Check the cloud is ready to upgrade; change nothing.",
    ),
    "plan": ("stackstep.cli.plan_cmd", "Show exactly what an upgrade would do. Changes nothing."),
    "upgrade": (
        "stackstep.cli.upgrade_cmd",
        "Upgrade the cloud: discover, show the plan, ask once, carry it out with a journal.",
    ),
    "resume": (
        "stackstep.cli.upgrade_cmd",
        "Continue a run where it stopped (default: the latest run).",
    ),
    "restore": (
        "stackstep.cli.restore_cmd",
        "Roll SERVICE back to where run RUN found it, from the run's database backup.",
    ),
    "reboot": (
        "stackstep.cli.reboot_cmd",
        "Reboot the hosts that need it (a newer kernel than the running one).",
    ),
    "status": (
        "stackstep.cli.status_cmd",
        "Where a run stands (default: the latest): step counts, failure, what is down.",
    ),
    "runs": ("stackstep.cli.status_cmd", "List the runs in the state directory, newest first."),
    "report": (
        "stackstep.cli.report_cmd",
        "A run's report (default: the latest): one HTML page with a timeline, or JSON.",
    ),
    "configs": (
        "stackstep.cli.configs_cmd",
        "Review the config files a run's upgrades set aside (.rpmnew, .dpkg-dist, ...).",
    ),
    "catalog": (
        "stackstep.cli.catalog_cmd",
        "List releases, upgrade paths and services (validates --catalog files).",
    ),
    "lab": (
        "stackstep.cli.lab_cmd",
        "Real multi-host machines on this computer: systemd-nspawn hosts with SSH, "
        "package repositories and their own network. Needs root.",
    ),
}


def load(name: str) -> click.Command:
    """The command ``name`` (its module is imported now)."""
    module, _ = COMMANDS[name]
    command = getattr(import_module(module), name)
    assert isinstance(command, click.Command)
    return command


def register(group: click.Group) -> None:
    """Add every command at once (tests; the CLI itself loads them one by one)."""
    for name in COMMANDS:
        group.add_command(load(name))


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load(cmd_name))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the table: nothing imported."""
        listed = click.Group(self.name)
        for name, (_, text) in COMMANDS.items():
            listed.add_command(self.commands.get(name) or click.Command(name, help=text))
        listed.format_commands(ctx, formatter)
