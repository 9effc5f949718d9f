"""SshTransport against a real OpenSSH server on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import asyncssh
import pytest

from stackstep.engine.preflight import check_host
from stackstep.errors import (
    AuthenticationError,
    CommandTimeout,
    HostKeyError,
    HostUnreachable,
    PrivilegeError,
    TransportError,
)
from stackstep.model.command import Command, Secret, cmd
from stackstep.model.inventory import Host
from stackstep.model.plan import Step, StepKind
from stackstep.transport.base import TransportOptions
from stackstep.transport.ssh import SshTransport, _Endpoint, _translate, parse_jump

if TYPE_CHECKING:
    from conftest import Sshd  # the fixture module (typing only)

MakeKey = Callable[[str], tuple[Path, str]]

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the test key may log in: never the developer's agent."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
def known(sshd: Sshd, tmp_path: Path) -> Path:
    return sshd.known_hosts(tmp_path / "known_hosts")


def with_transport(
    host: Host, options: TransportOptions, body: Callable[[SshTransport], Awaitable[T]]
) -> T:
    async def main() -> T:
        transport = SshTransport(host, options)
        try:
            return await body(transport)
        finally:
            await transport.close()

    return asyncio.run(main())


def test_runs_commands_returning_status_and_split_output(sshd: Sshd, known: Path) -> None:
    async def body(t: SshTransport) -> None:
        echo = await t.run(cmd("echo", "hello world"))
        assert (echo.host, echo.exit_status, echo.stdout, echo.stderr) == (
            "node-1", 0, "hello world\n", ""
        )  # fmt: skip
        failed = await t.run(cmd("sh", "-c", "echo out; echo err >&2; exit 7"))
        assert (failed.exit_status, failed.stdout, failed.stderr) == (7, "out\n", "err\n")
        assert failed.command == "sh -c 'echo out; echo err >&2; exit 7'"
        quoted = await t.run(cmd("printf", "%s|", "a b", "$HOME", "it's"))
        assert quoted.stdout == "a b|$HOME|it's|"  # argv survives the remote shell
        assert (await t.run(cmd("cat"), stdin="piped\n")).stdout == "piped\n"
        assert (await t.run(cmd("cat"))).stdout == ""  # no stdin: EOF, no hang
        assert (await t.run(cmd("hostname"))).stdout.strip() == os.uname().nodename

    with_transport(sshd.host(), sshd.options(known), body)


def test_one_connection_serves_every_command_and_file(sshd: Sshd, known: Path) -> None:
    before = sshd.accepted()

    async def body(t: SshTransport) -> None:
        results = await asyncio.gather(*(t.run(cmd("echo", str(i))) for i in range(5)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(5)]
        await t.put(b"x", str(sshd.dir / "reuse.txt"))
        await t.run(cmd("true"))

    with_transport(sshd.host(), sshd.options(known), body)
    assert sshd.accepted() - before == 1


def test_environment_from_host_and_command(sshd: Sshd, known: Path) -> None:
    host = sshd.host(env={"A": "from host", "B": "host"})
    command = Command(("sh", "-c", 'echo "$A|$B|$C"'), env=(("B", "cmd"), ("C", "it's")))
    result = with_transport(host, sshd.options(known), lambda t: t.run(command))
    assert result.stdout == "from host|cmd|it's\n"
    assert result.command == "B=cmd C='it'\"'\"'s' sh -c 'echo \"$A|$B|$C\"'"


def test_secrets_are_sent_but_masked_in_results(sshd: Sshd, known: Path) -> None:
    command = Command(("echo", Secret("hunter2")), env=(("PW", Secret("envpw")),))
    result = with_transport(sshd.host(), sshd.options(known), lambda t: t.run(command))
    assert result.stdout == "hunter2\n"
    assert result.command == "PW='******' echo '******'"

    async def slow(t: SshTransport) -> None:
        await t.run(cmd("sh", "-c", "sleep 5", Secret("hunter2")), timeout=0.3)

    with pytest.raises(CommandTimeout) as info:
        with_transport(sshd.host(), sshd.options(known), slow)
    assert "hunter2" not in info.value.render()


def test_command_timeout_stops_the_remote_command(sshd: Sshd, known: Path) -> None:
    pidfile = sshd.dir / "timeout.pid"
    script = f"echo $$ > {pidfile}; exec sleep 30"

    async def body(t: SshTransport) -> str:
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as info:
            await t.run(cmd("sh", "-c", script), timeout=1.0)
        assert time.monotonic() - started < 3
        assert info.value.host == "node-1" and info.value.timeout == 1.0
        return (await t.run(cmd("echo", "still usable"))).stdout

    assert with_transport(sshd.host(), sshd.options(known), body) == "still usable\n"
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "the remote sleep survived the timeout"


def test_changed_host_key_is_refused_even_when_accepting_new(
    sshd: Sshd, tmp_path: Path, make_key: MakeKey
) -> None:
    _, other = make_key("other")
    line = f"[127.0.0.1]:{sshd.port} " + " ".join(other.split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(line + "\n")
    for accept in (False, True):
        options = sshd.options(known, accept_new_host_keys=accept)
        with pytest.raises(HostKeyError) as info:
            with_transport(sshd.host(), options, lambda t: t.run(cmd("true")))
        error = info.value
        assert error.host == "node-1" and f"127.0.0.1:{sshd.port}" in error.message
        assert "differs" in error.message and "attack" in error.message
    assert known.read_text() == line + "\n"


def test_unknown_host_refused_by_default_then_accepted_and_recorded(
    sshd: Sshd, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"  # neither the file nor its dir exist yet
    with pytest.raises(HostKeyError) as info:
        with_transport(sshd.host(), sshd.options(known), lambda t: t.run(cmd("true")))
    assert "unknown" in info.value.message
    assert info.value.hint and f"ssh-keyscan -p {sshd.port} 127.0.0.1" in info.value.hint
    assert "--accept-new-host-keys" in info.value.hint
    assert not known.exists()

    accept = sshd.options(known, accept_new_host_keys=True)
    assert with_transport(sshd.host(), accept, lambda t: t.run(cmd("true"))).ok
    assert known.read_text() == sshd.known_hosts_line
    # recorded: a strict client trusts it now, and accepting again adds no duplicate
    assert with_transport(sshd.host(), sshd.options(known), lambda t: t.run(cmd("true"))).ok
    assert with_transport(sshd.host(), accept, lambda t: t.run(cmd("true"))).ok
    assert known.read_text() == sshd.known_hosts_line


def test_dead_host_is_unreachable_naming_host_and_address(
    sshd: Sshd, known: Path, free_port: int
) -> None:
    port = free_port
    host = sshd.host(name="dead-1", port=port)
    started = time.monotonic()
    with pytest.raises(HostUnreachable) as info:
        with_transport(host, sshd.options(known), lambda t: t.run(cmd("true")))
    assert time.monotonic() - started < 5
    error = info.value
    assert error.host == "dead-1" and error.message.startswith("dead-1: ")
    assert f"127.0.0.1:{port}" in error.message
    assert error.hint == "is the host up and sshd listening?"


def test_wrong_key_is_an_authentication_error(sshd: Sshd, known: Path, make_key: MakeKey) -> None:
    stranger, _ = make_key("stranger")
    host = sshd.host(identity_file=str(stranger))
    with pytest.raises(AuthenticationError) as info:
        with_transport(host, sshd.options(known), lambda t: t.run(cmd("true")))
    assert "'root'" in info.value.message and str(stranger) in info.value.message
    missing = sshd.host(identity_file=str(stranger) + "-missing")
    with pytest.raises(AuthenticationError, match="stranger-missing"):
        with_transport(missing, sshd.options(known), lambda t: t.run(cmd("true")))


def test_lost_connection_is_unreachable_and_the_next_command_reconnects(
    sshd: Sshd, known: Path
) -> None:
    async def body(t: SshTransport) -> str:
        running = asyncio.ensure_future(t.run(cmd("sleep", "10")))
        await asyncio.sleep(0.5)
        sshd.drop_connections()
        with pytest.raises(HostUnreachable, match="lost") as info:
            await asyncio.wait_for(running, 5)
        assert info.value.host == "node-1" and info.value.hint
        return (await t.run(cmd("echo", "back"))).stdout

    assert with_transport(sshd.host(), sshd.options(known), body) == "back\n"


def test_put_and_get_round_trip(sshd: Sshd, known: Path) -> None:
    path = sshd.dir / "round-trip.bin"
    data = bytes(range(256)) * 64

    async def body(t: SshTransport) -> bytes:
        await t.put(b"old", str(path))
        await t.put(data, str(path), mode=0o640)
        return await t.get(str(path))

    assert with_transport(sshd.host(), sshd.options(known), body) == data
    assert path.stat().st_mode & 0o777 == 0o640
    assert not list(sshd.dir.glob("round-trip.bin.*"))  # the temp file was renamed


@pytest.mark.usefixtures("sudo_installed")
def test_become_runs_as_root_through_sudo(sshd: Sshd, known: Path) -> None:
    host = sshd.host(become=True, env={"A": "kept"})
    path = sshd.dir / "become.conf"

    async def body(t: SshTransport) -> tuple[str, bytes]:
        result = await t.run(cmd("sh", "-c", 'echo "$(id -u) $A"'))
        await t.put(b"as root\n", str(path), mode=0o600)
        return result.stdout, await t.get(str(path))

    assert with_transport(host, sshd.options(known), body) == ("0 kept\n", b"as root\n")
    assert (path.stat().st_uid, path.stat().st_mode & 0o777) == (0, 0o600)


@pytest.mark.root
@pytest.mark.usefixtures("sudo_installed")
def test_sudo_without_rights_is_a_privilege_error(
    sshd: Sshd, known: Path, unprivileged_user: str
) -> None:
    plain = sshd.host(user=unprivileged_user)
    result = with_transport(plain, sshd.options(known), lambda t: t.run(cmd("id", "-un")))
    assert result.stdout == f"{unprivileged_user}\n"
    become = sshd.host(user=unprivileged_user, become=True)
    with pytest.raises(PrivilegeError) as info:
        with_transport(become, sshd.options(known), lambda t: t.run(cmd("true")))
    assert info.value.host == "node-1" and unprivileged_user in info.value.message
    assert info.value.hint and "NOPASSWD" in info.value.hint


@pytest.mark.root
@pytest.mark.usefixtures("sudo_installed")
def test_preflight_reports_a_sudo_refusal_as_a_sudo_problem_with_its_fix(
    sshd: Sshd, known: Path, unprivileged_user: str
) -> None:
    step = Step(
        "preflight/node-1/check", StepKind.PREFLIGHT, "check", "node-1", None, (), {}, False, 60
    )
    become = sshd.host(user=unprivileged_user, become=True)
    found = with_transport(
        become,
        sshd.options(known),
        lambda t: check_host(step, t, become, "systemd", lambda r: None),
    )
    assert [(f.host, f.check, f.severity) for f in found] == [("node-1", "sudo", "problem")]
    assert unprivileged_user in found[0].message and "NOPASSWD" in found[0].fix
    ready = with_transport(
        sshd.host(become=True),
        sshd.options(known),
        lambda t: check_host(step, t, sshd.host(become=True), "systemd", lambda r: None),
    )
    assert [f for f in ready if f.check in ("ssh", "sudo")] == []


def test_jump_host_tunnels_through_a_first_connection(sshd: Sshd, known: Path) -> None:
    before = sshd.accepted()
    host = sshd.host(jump=f"root@127.0.0.1:{sshd.port}")

    async def body(t: SshTransport) -> list[str]:
        return [(await t.run(cmd("echo", str(i)))).stdout for i in range(3)]

    assert with_transport(host, sshd.options(known), body) == ["0\n", "1\n", "2\n"]
    assert sshd.accepted() - before == 2  # the jump host, then the host through it


def test_jump_host_follows_the_same_host_key_rules(sshd: Sshd, tmp_path: Path) -> None:
    host = sshd.host(jump=f"127.0.0.1:{sshd.port}")
    with pytest.raises(HostKeyError, match=r"jump host 127\.0\.0\.1"):
        options = sshd.options(tmp_path / "empty_known_hosts")
        with_transport(host, options, lambda t: t.run(cmd("true")))


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), HostUnreachable,
         "name not found"),
        (TimeoutError(), HostUnreachable, "timed out"),
        (ConnectionRefusedError(111, "Connection refused"), HostUnreachable, "refused"),
        (OSError(113, "No route to host"), HostUnreachable, "No route to host"),
        (asyncssh.PermissionDenied("no"), AuthenticationError, "'ops'"),
        (asyncssh.ConnectionLost("gone"), HostUnreachable, "lost: gone"),
        (asyncssh.SFTPNoSuchFile("no such file"), TransportError, "file transfer"),
        (asyncssh.ProtocolError("bad"), TransportError, "SSH to db.example:2200 failed: bad"),
    ],
)  # fmt: skip
def test_translate_names_host_and_address(
    exc: BaseException, kind: type[TransportError], text: str, tmp_path: Path
) -> None:
    end = _Endpoint("db-1", "ops", "db.example", 2200, None, str(tmp_path / "kh"))
    error = _translate(end, exc)
    assert type(error) is kind
    assert error.host == "db-1" and "db.example:2200" in error.message and text in error.message


def test_parse_jump() -> None:
    assert parse_jump("bastion", "root") == ("root", "bastion", 22)
    assert parse_jump("ops@bastion:2222", "root") == ("ops", "bastion", 2222)
    assert parse_jump("[::1]:2200", "u") == ("u", "::1", 2200)
    with pytest.raises(ValueError, match="bad jump host"):
        parse_jump("bastion:ssh", "root")


def test_process_data_for_the_restart_decision_survives_the_remote_shell(
    sshd: Sshd, known: Path, tmp_path: Path
) -> None:
    """drivers/loaded.py's scripts (quotes, pipes, awk programs) run over real SSH: the
    host reads a real process and its child, and a module file's change time."""
    from stackstep.drivers import loaded

    child = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
    module = tmp_path / "lib" / "python3.9" / "site-packages" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text("X = 1\n")
    tool = tmp_path / "bin" / "rpm"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho "{module}"\n')
    tool.chmod(0o755)

    async def body(t: SshTransport) -> tuple[str, str]:
        deadline = time.monotonic() + 5
        read = ""
        while time.monotonic() < deadline and "sleep" not in read:
            read = (await t.run(loaded.processes_command([child.pid]))).stdout
        mods = Command(
            loaded.modules_command(["pkg"]).argv, env=(("PATH", f"{tool.parent}:/usr/bin:/bin"),)
        )
        return read, (await t.run(mods)).stdout

    try:
        text, mods = with_transport(sshd.host(), sshd.options(known), body)
    finally:
        child.kill()
        child.wait()
    data = loaded.parse_processes(text)
    assert data is not None
    tree = data.tree(child.pid)
    assert [p.exe.rsplit("/", 1)[-1] for p in tree][:1] in (["sh"], ["dash"], ["bash"])
    assert any(p.exe.endswith("sleep") for p in tree[1:])
    (change,) = loaded.parse_modules(mods)
    assert (change.package, change.pydir, change.sample) == ("pkg", "python3.9", str(module))
    assert abs(change.changed - module.stat().st_ctime) < 0.01
