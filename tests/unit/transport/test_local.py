"""LocalTransport against real processes on this machine."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from stackstep.errors import CommandTimeout, PrivilegeError, TransportError
from stackstep.model.command import Command, Secret, cmd
from stackstep.model.inventory import Host
from stackstep.transport.base import Result, TransportOptions, host_argv, privilege_error
from stackstep.transport.local import LocalTransport

HOST = Host(name="here", address="127.0.0.1", transport="local")


def run(command: Command, host: Host = HOST, **kw: object) -> Result:
    async def main() -> Result:
        transport = LocalTransport(host, TransportOptions())
        try:
            return await transport.run(command, **kw)  # type: ignore[arg-type]
        finally:
            await transport.close()

    return asyncio.run(main())


def test_stdout_stderr_and_status_are_returned_not_raised() -> None:
    result = run(cmd("sh", "-c", "echo out; echo err >&2; exit 3"))
    assert (result.host, result.exit_status, result.ok) == ("here", 3, False)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert result.command == "sh -c 'echo out; echo err >&2; exit 3'"
    assert result.duration >= 0


def test_argv_is_executed_without_a_shell() -> None:
    result = run(cmd("echo", "$HOME", ";", "rm", "-rf", "/nonexistent"))
    assert result.stdout == "$HOME ; rm -rf /nonexistent\n"


def test_missing_program_gives_127_like_a_shell() -> None:
    result = run(cmd("stackstep-no-such-program"))
    assert result.exit_status == 127
    assert "stackstep-no-such-program" in result.stderr


def test_environment_from_host_and_command_command_wins() -> None:
    host = Host(name="here", address="x", transport="local", env={"A": "host", "B": "host"})
    command = Command(
        ("sh", "-c", 'echo "$A $B $C"; test -n "$PATH"'), env=(("B", "cmd"), ("C", "c"))
    )
    result = run(command, host)
    assert (result.exit_status, result.stdout) == (0, "host cmd c\n")


def test_stdin_is_fed_and_absent_stdin_does_not_hang() -> None:
    assert run(cmd("cat"), stdin="hello\n").stdout == "hello\n"
    assert run(cmd("cat"), timeout=5).stdout == ""


def test_secrets_reach_the_process_but_not_the_result() -> None:
    command = Command(("echo", Secret("s3cret")), env=(("PW", Secret("envpw")),))
    result = run(command)
    assert result.stdout == "s3cret\n"
    assert "s3cret" not in result.command and "envpw" not in result.command
    assert result.command == "PW='******' echo '******'"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run(cmd("sh", "-c", script), timeout=0.5)
    assert time.monotonic() - started < 5
    assert info.value.host == "here" and info.value.timeout == 0.5
    assert "sleep 30" in info.value.command
    assert not _alive(int(pidfile.read_text()))


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie left to an init that does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_default_timeout_comes_from_options() -> None:
    async def main() -> None:
        transport = LocalTransport(HOST, TransportOptions(command_timeout=0.3))
        await transport.run(cmd("sleep", "10"))

    with pytest.raises(CommandTimeout):
        asyncio.run(main())


def test_put_replaces_file_with_mode_and_get_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "etc.conf"
    path.write_text("old")

    async def main() -> bytes:
        transport = LocalTransport(HOST, TransportOptions())
        await transport.put(b"new\x00bytes", str(path), mode=0o600)
        return await transport.get(str(path))

    assert asyncio.run(main()) == b"new\x00bytes"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc.conf"]  # no temp left


def test_file_errors_are_transport_errors_naming_the_path(tmp_path: Path) -> None:
    transport = LocalTransport(HOST, TransportOptions())
    missing = str(tmp_path / "missing")
    with pytest.raises(TransportError, match="missing"):
        asyncio.run(transport.get(missing))
    with pytest.raises(TransportError, match="here: cannot access"):
        asyncio.run(transport.put(b"x", str(tmp_path / "no-dir" / "f")))


def test_become_prefixes_sudo_and_inlines_env() -> None:
    host = Host(name="h", address="a", become=True, env={"A": "1"})
    command = Command(("echo", Secret("pw")), env=(("B", "2"),))
    assert host_argv(host, command) == ["sudo", "-n", "--", "env", "A=1", "B=2", "echo", "pw"]
    assert host_argv(host, command, inline_env=False)[:4] == ["sudo", "-n", "--", "env"]
    plain = Host(name="h", address="a", env={"A": "1"})
    assert host_argv(plain, command, inline_env=False) == ["echo", "pw"]
    assert host_argv(plain, cmd("true")) == ["env", "A=1", "true"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("sudo") is None, reason="needs root and sudo")
def test_become_runs_through_sudo_as_root() -> None:
    host = Host(name="here", address="x", transport="local", become=True, env={"A": "1"})
    result = run(cmd("sh", "-c", 'echo "$(id -u) $A"'), host)
    assert (result.exit_status, result.stdout) == (0, "0 1\n")


@pytest.mark.parametrize(
    "stderr",
    [
        "sudo: a password is required\n",
        "Sorry, user bob is not allowed to execute '/bin/true' as root on h.\n",
        "bob is not in the sudoers file.\nsudo: bob is not in the sudoers file.\n",
    ],
)
def test_sudo_refusals_become_privilege_errors(stderr: str) -> None:
    host = Host(name="h", address="a", user="bob", become=True)
    error = privilege_error(host, Result("h", "true", 1, "", stderr, 0.0))
    assert isinstance(error, PrivilegeError)
    assert error.host == "h" and "bob" in error.message
    assert error.hint is not None and "NOPASSWD" in error.hint


def test_ordinary_failures_are_not_privilege_errors() -> None:
    become = Host(name="h", address="a", become=True)
    assert privilege_error(become, Result("h", "x", 1, "", "x: not allowed here\n", 0)) is None
    assert (
        privilege_error(become, Result("h", "x", 2, "", "sudo: a password is required", 0)) is None
    )
    plain = Host(name="h", address="a")
    assert (
        privilege_error(plain, Result("h", "x", 1, "", "sudo: a password is required", 0)) is None
    )
