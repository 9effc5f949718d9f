"""Run commands on this machine: asyncio subprocesses, argv exec, never a shell.

The small helpers that decide *what* a host runs (``host_argv``: the ``sudo -n --``
and ``env K=V`` prefixes) and how a refused ``sudo`` looks (``privilege_error``) live
here and are shared with :mod:`stackstep.transport.ssh`, so both transports run the
same argv for the same host and command.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stackstep.errors import CommandTimeout, PrivilegeError, TransportError
from stackstep.model.command import Command, Secret, Token
from stackstep.model.inventory import Host
from stackstep.model.names import ENV_NAME
from stackstep.transport.base import Result, TransportOptions

T = TypeVar("T")
SUDO = ("sudo", "-n", "--")
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a command times out
_SUDO_REFUSED = re.compile(
    r"^sudo: (a password is required|.*not allowed|.*not in the sudoers)"
    r"|^Sorry, user .* is not allowed",
    re.MULTILINE,
)
PRIVILEGE_HINT = (
    "give the user passwordless sudo on the host, e.g. a sudoers line "
    "'USER ALL=(ALL) NOPASSWD: ALL', or connect as root and drop become"
)


def reveal(token: Token) -> str:
    return token.value if isinstance(token, Secret) else token


def command_env(host: Host, command: Command) -> dict[str, str]:
    """The extra environment of a command: the host's, overridden by the command's."""
    env = dict(host.env)
    env.update((key, reveal(value)) for key, value in command.env)
    bad = next((key for key in env if not ENV_NAME.fullmatch(key)), None)
    if bad is not None:  # never `env -S ...`: the loader refuses such keys, this is a backstop
        raise ValueError(f"invalid environment variable name {bad!r}")
    return env


def host_argv(host: Host, command: Command, *, inline_env: bool = True) -> list[str]:
    """The argv the host runs: ``[sudo -n --] [env K=V ...] argv...``.

    With ``inline_env=False`` the environment is left out (the caller passes it to the
    process itself); it is always inlined under ``sudo``, which resets the environment.
    """
    argv = command.reveal()
    env = command_env(host, command)
    if env and (inline_env or host.become):
        argv = ["env", *(f"{key}={value}" for key, value in env.items()), *argv]
    return [*SUDO, *argv] if host.become else argv


def privilege_error(host: Host, result: Result) -> PrivilegeError | None:
    """The error for a ``sudo -n`` refusal, or None when ``result`` is not one."""
    if not host.become or result.exit_status != 1:
        return None
    found = _SUDO_REFUSED.search(result.stderr)
    if found is None:
        return None
    return PrivilegeError(
        host.name,
        f"sudo refused to run `{result.command}` as {host.user}: {found.group(0)}",
        hint=PRIVILEGE_HINT.replace("USER", host.user),
    )


class LocalTransport:
    """This machine, as if it were a host: ``host.transport == "local"``."""

    def __init__(self, host: Host, options: TransportOptions) -> None:
        self.host = host.name
        self._host = host
        self._options = options

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        limit = self._options.command_timeout if timeout is None else timeout
        started = time.monotonic()
        data = None if stdin is None else stdin.encode()
        status, out, err = await self._exec(command, data, limit)
        result = Result(
            host=self.host,
            command=command.render(),
            exit_status=status,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            duration=time.monotonic() - started,
        )
        refused = privilege_error(self._host, result)
        if refused is not None:
            raise refused
        return result

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        if not self._sudo_files():
            await self._file_io(functools.partial(_write_file, path, data, mode))
            return
        fd, tmp = tempfile.mkstemp(prefix="stackstep-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            argv = ("install", "-m", f"{mode:o}", tmp, path)
            await self._checked(Command(argv), path, "write")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    async def get(self, path: str) -> bytes:
        if not self._sudo_files():
            return await self._file_io(Path(path).read_bytes)
        return await self._checked(Command(("cat", "--", path)), path, "read")

    async def close(self) -> None:
        return None

    def _sudo_files(self) -> bool:
        return self._host.become and os.geteuid() != 0

    async def _file_io(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except OSError as exc:
            what = exc.filename or "file"
            raise TransportError(self.host, f"cannot access {what}: {exc.strerror}") from exc

    async def _checked(self, command: Command, path: str, verb: str) -> bytes:
        status, out, err = await self._exec(command, None, self._options.command_timeout)
        if status == 0:
            return out
        result = Result(self.host, command.render(), status, "", err.decode(errors="replace"), 0)
        refused = privilege_error(self._host, result)
        if refused is not None:
            raise refused
        raise TransportError(self.host, f"cannot {verb} {path}: {result.stderr.strip()}")

    async def _exec(
        self, command: Command, stdin: bytes | None, limit: float
    ) -> tuple[int, bytes, bytes]:
        argv = host_argv(self._host, command, inline_env=False)
        env = {**os.environ, **command_env(self._host, command)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group: a timeout kills it all
            )
        except OSError as exc:  # as a shell would report it: 127 not found, 126 not runnable
            status = 127 if isinstance(exc, FileNotFoundError) else 126
            return status, b"", f"{argv[0]}: {exc.strerror}\n".encode()
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), limit)
        except BaseException as exc:
            await _kill_group(proc)
            if isinstance(exc, TimeoutError):
                raise CommandTimeout(self.host, command.render(), limit) from None
            raise
        return proc.returncode if proc.returncode is not None else -1, out, err


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Stop a timed-out or cancelled command and everything it started.

    SIGTERM first, so that ``sudo`` can pass it on to its child; SIGKILL after a grace.
    """
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)


def _write_file(path: str, data: bytes, mode: int) -> None:
    """Replace ``path`` atomically: a temp file in the same directory, then rename."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
