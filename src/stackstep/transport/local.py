"""Run commands on this machine: asyncio subprocesses, argv exec, never a shell.

The argv a host runs (``host_argv``) and the ``sudo`` refusal check are shared with
:mod:`stackstep.transport.ssh` through :mod:`stackstep.transport.base`, so both
transports run the same argv for the same host and command.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stackstep.errors import CommandTimeout, TransportError
from stackstep.model.command import Command
from stackstep.transport.base import ExecTransport, Result, command_env, host_argv

T = TypeVar("T")
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a command times out


class LocalTransport(ExecTransport):
    """This machine, as if it were a host: ``host.transport == "local"``."""

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        if not self._sudo_files():
            await self._file_io(functools.partial(_write_file, path, data, mode))
            return
        fd, tmp = tempfile.mkstemp(prefix="stackstep-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            argv = ("install", "-m", f"{mode:o}", tmp, path)
            await self._checked(Command(argv), _cannot("write", path))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    async def get(self, path: str) -> bytes:
        if not self._sudo_files():
            return await self._file_io(Path(path).read_bytes)
        return await self._checked(Command(("cat", "--", path)), _cannot("read", path))

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

    async def _exec(
        self, command: Command, stdin: str | None, limit: float
    ) -> tuple[int, bytes, bytes]:
        data = None if stdin is None else stdin.encode()
        argv = host_argv(self._host, command, inline_env=False)
        env = {**os.environ, **command_env(self._host, command)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL if data is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group: a timeout kills it all
            )
        except OSError as exc:  # as a shell would report it: 127 not found, 126 not runnable
            status = 127 if isinstance(exc, FileNotFoundError) else 126
            return status, b"", f"{argv[0]}: {exc.strerror}\n".encode()
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), limit)
        except BaseException as exc:
            await _kill_group(proc)
            if isinstance(exc, TimeoutError):
                raise CommandTimeout(self.host, command.render(), limit) from None
            raise
        return proc.returncode if proc.returncode is not None else -1, out, err


def _cannot(verb: str, path: str) -> Callable[[Result], str]:
    """The message of a failed file command run under sudo: its own error output."""
    return lambda result: f"cannot {verb} {path}: {result.stderr.strip()}"


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
