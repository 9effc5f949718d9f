"""The transport protocol: run a command on one host, move files, close.

What the local and SSH transports share lives here too: the argv a host runs for a
command (``host_argv``: the ``sudo -n --`` and ``env K=V`` prefixes), how a refused
``sudo`` looks (``privilege_error``), and :class:`ExecTransport`, their base, which
writes ``run()`` once around each transport's own ``_exec``.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from stackstep.errors import PrivilegeError, TransportError
from stackstep.model.command import Command, Secret, Token
from stackstep.model.inventory import Host
from stackstep.model.names import ENV_NAME

TAIL_LINES = 20
SUDO = ("sudo", "-n", "--")
_SUDO_REFUSED = re.compile(
    r"^sudo: (a password is required|.*not allowed|.*not in the sudoers)"
    r"|^Sorry, user .* is not allowed",
    re.MULTILINE,
)
PRIVILEGE_HINT = (
    "give the user passwordless sudo on the host, e.g. a sudoers line "
    "'USER ALL=(ALL) NOPASSWD: ALL', or connect as root and drop become"
)


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


class ExecTransport(ABC):
    """A transport that runs real processes (local, SSH): ``run()`` around ``_exec``.

    A subclass says how to execute one command (``_exec``) and how to move files; the
    result, its timing and the ``sudo`` refusal check are the same for every host.
    """

    def __init__(self, host: Host, options: TransportOptions) -> None:
        self.host = host.name
        self._host = host
        self._options = options

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        limit = self._options.command_timeout if timeout is None else timeout
        started = time.monotonic()
        status, out, err = await self._exec(command, stdin, limit)
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

    @abstractmethod
    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None: ...

    @abstractmethod
    async def get(self, path: str) -> bytes: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _exec(
        self, command: Command, stdin: str | None, limit: float
    ) -> tuple[int, bytes, bytes]:
        """Run ``command`` once within ``limit`` seconds: (exit status, stdout, stderr).

        Raises :class:`~stackstep.errors.CommandTimeout` when the limit passes and a
        :class:`~stackstep.errors.TransportError` when the host cannot be reached.
        """

    async def _checked(self, command: Command, failure: Callable[[Result], str]) -> bytes:
        """The stdout of a file command (``cat``, ``install``) that must succeed.

        A ``sudo`` refusal is a :class:`~stackstep.errors.PrivilegeError`; any other
        failure a :class:`~stackstep.errors.TransportError` saying ``failure(result)``.
        """
        status, out, err = await self._exec(command, None, self._options.command_timeout)
        if status == 0:
            return out
        result = Result(self.host, command.render(), status, "", err.decode(errors="replace"), 0)
        refused = privilege_error(self._host, result)
        if refused is not None:
            raise refused
        raise TransportError(self.host, failure(result))
