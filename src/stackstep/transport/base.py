"""The transport protocol: run a command on one host, move files, close."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stackstep.model.command import Command

TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    """What a finished command gave back. ``command`` is rendered with secrets masked."""

    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of stdout and stderr together, for messages and the journal."""
        text = (self.stdout.rstrip("\n") + "\n" + self.stderr.rstrip("\n")).strip("\n")
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class TransportOptions:
    known_hosts: str | None = None  # None: ~/.ssh/known_hosts
    accept_new_host_keys: bool = False  # True: trust and record keys of unknown hosts
    connect_timeout: float = 15.0
    keepalive_interval: float = 15.0
    command_timeout: float = 600.0  # default per command; steps pass their own


class Transport(Protocol):
    """One host. Implementations keep one connection and reuse it for every command."""

    host: str

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        """Run ``command`` (as root via ``sudo -n`` when the host says become).

        Never raises for a non-zero exit: look at ``Result.exit_status``. Raises a
        :class:`~stackstep.errors.TransportError` when the host cannot be reached, and
        :class:`~stackstep.errors.CommandTimeout` when ``timeout`` passes (the command is
        stopped).
        """
        ...

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """Write ``data`` to ``path`` on the host (replacing it)."""
        ...

    async def get(self, path: str) -> bytes:
        """Read ``path`` from the host."""
        ...

    async def close(self) -> None: ...
