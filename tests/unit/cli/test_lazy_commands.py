"""Start-up: a command imports only what it needs, and `--help` imports no command.

`stackstep plan` on a cloud without --discover must not pay for SSH (asyncssh), HTTP
(httpx) or the console (rich); the command list of `stackstep --help` comes from the
table in cli/commands.py, which must say what the commands themselves say.
"""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from stackstep_testing import EXAMPLES, ROOT

HEAVY = (
    "asyncssh",
    "httpx",
    "rich",
    "asyncio",
    "stackstep.engine",
    "stackstep.configs",
    "stackstep.reboot",
    "stackstep.restore",
    "stackstep.lab",
)

PROBE = """
import sys
from stackstep.cli.main import main
sys.argv[0] = "stackstep"
try:
    main()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] if not m.startswith("stackstep.") else ".".join(m.split(".")[:2])
                for m in sys.modules})
print(" ".join(heavy), file=sys.stderr)
"""


def loaded_modules(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    return set(proc.stderr.split())


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("plan", "--help"),
        ("plan", "-i", str(EXAMPLES / "rdo-seed.yaml")),
        ("plan", "-i", str(EXAMPLES / "rdo-seed.yaml"), "--json"),
        ("catalog",),
    ],
    ids=["help", "plan-help", "plan", "plan-json", "catalog"],
)
def test_commands_that_read_no_host_do_not_import_ssh_http_or_the_engine(args):
    loaded = loaded_modules(*args)
    assert "stackstep.cli" in loaded  # the probe ran
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_command_table_says_what_each_command_says():
    from stackstep.cli.commands import COMMANDS, load

    for name, (_, text) in COMMANDS.items():
        command = load(name)
        assert command.name == name
        stand_in = click.Command(name, help=text)
        for limit in (20, 45, 80, 200):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_help_lists_every_command_as_the_commands_would():
    from stackstep.cli.commands import register
    from stackstep.cli.main import cli

    lazy = CliRunner().invoke(cli, ["--help"], prog_name="stackstep", terminal_width=100)
    eager = click.Group("stackstep", help=cli.help, params=cli.params)
    eager.context_settings = cli.context_settings
    register(eager)
    loaded = CliRunner().invoke(eager, ["--help"], prog_name="stackstep", terminal_width=100)
    assert lazy.exit_code == loaded.exit_code == 0
    assert lazy.output == loaded.output
    assert "plan" in lazy.output and "upgrade" in lazy.output
