"""Run commands on a host over SSH (asyncssh): the only module that imports asyncssh.

One connection per host, opened on first use and reused for every command and file
transfer; a lost connection is reopened on the next use. Host keys are verified against
known_hosts (``TransportOptions.known_hosts`` or ``~/.ssh/known_hosts``); with
``accept_new_host_keys`` the key of a host that has no entry yet is trusted and appended
to that file, while a key that differs from a recorded one is always refused.
``~/.ssh/config`` is not read: the inventory alone says how to reach a host.

Every asyncssh or OSError failure becomes a stackstep error in :func:`_translate`, through
the one context manager :func:`_translated` around each use of asyncssh.

Timeouts are enforced at both ends. Here, the call raises CommandTimeout when the limit
passes (a TERM signal request is sent and the channel closed). On the host, the command
runs under GNU ``timeout`` with the same limit, which stops its whole process group:
OpenSSH refuses signal requests on root sessions ("session signalling requires privilege
separation") and a closed channel alone leaves a command such as ``sleep`` running. So the
host runs ``[sudo -n --] timeout -k 5 LIMIT [env K=V ...] ARGV`` (see ``remote_argv``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from stackstep.errors import (
    AuthenticationError,
    CommandTimeout,
    HostKeyError,
    HostUnreachable,
    TransportError,
)
from stackstep.model.command import Command
from stackstep.model.inventory import Host
from stackstep.transport.base import SUDO, ExecTransport, TransportOptions, host_argv
from stackstep.transport.netns import connect_in_netns

# cryptography 51 deprecates DSA, which asyncssh names when it is imported and when it
# reads keys. stackstep never uses DSA, and the warning is asyncssh's to act on, not the
# user's: keep it off their terminal (and off the stderr of `--json` commands).
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")

import asyncssh  # noqa: E402

KEEPALIVE_COUNT_MAX = 3
MAX_CHANNELS = 8  # sessions open at once on one connection (sshd's MaxSessions is 10)
KILL_AFTER = 5  # seconds from the remote timeout's TERM to its KILL
_TIMEOUT_STATUSES = (124, 137)  # GNU timeout: TERM worked / KILL was needed
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


@dataclass(frozen=True)
class _Endpoint:
    """One SSH server to connect to: the host itself, or the jump host before it."""

    name: str  # the inventory host this connection serves
    user: str
    address: str
    port: int
    identity_file: str | None
    known_hosts: str
    role: str = "host"  # or "jump host"

    @property
    def where(self) -> str:
        return f"{self.address}:{self.port}"

    def known_entries(self) -> list[asyncssh.SSHKey]:
        """The keys known_hosts records for this endpoint (empty: an unknown host)."""
        known = _read_known_hosts(self.known_hosts)
        port = None if self.port == 22 else self.port
        return list(asyncssh.match_known_hosts(known, self.address, self.address, port)[0])


def _read_known_hosts(path: str) -> asyncssh.SSHKnownHosts:
    file = Path(path)
    return asyncssh.import_known_hosts(file.read_text() if file.exists() else "")


def _record_key(endpoint: _Endpoint, key: asyncssh.SSHKey) -> None:
    """Append ``key`` for ``endpoint`` to its known_hosts file, as OpenSSH writes it."""
    pattern = endpoint.address if endpoint.port == 22 else f"[{endpoint.address}]:{endpoint.port}"
    keytype, blob = key.export_public_key("openssh").decode().split()[:2]
    file = Path(endpoint.known_hosts)
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with file.open("a+") as handle:
        handle.seek(0)
        text = handle.read()
        handle.write(
            ("" if not text or text.endswith("\n") else "\n") + f"{pattern} {keytype} {blob}\n"
        )


class _Client(asyncssh.SSHClient):
    """Decides on host keys that known_hosts does not list (asyncssh asks us then)."""

    def __init__(self, endpoint: _Endpoint, accept_new: bool) -> None:
        self._endpoint = endpoint
        self._accept_new = accept_new

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        if not self._accept_new or self._endpoint.known_entries():
            return False  # unknown and not accepting, or changed: never accepted
        try:
            _record_key(self._endpoint, key)
        except OSError:
            return False  # a key we cannot record is not accepted either
        return True


def parse_jump(spec: str, default_user: str) -> tuple[str, str, int]:
    """``[user@]host[:port]`` (``[v6addr]:port`` too) -> (user, address, port)."""
    user, _, rest = spec.rpartition("@")
    address, port = rest, "22"
    if rest.startswith("["):
        address, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") or "22"
    elif rest.count(":") == 1:
        address, port = rest.split(":")
    if not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad jump host {spec!r}: expected [user@]host[:port]")
    return user or default_user, address, int(port)


class SshTransport(ExecTransport):
    """A host reached over SSH, one persistent connection (plus a jump host's, if any)."""

    def __init__(self, host: Host, options: TransportOptions) -> None:
        super().__init__(host, options)
        self._lock = asyncio.Lock()
        self._channels = asyncio.Semaphore(MAX_CHANNELS)
        self._conns: list[asyncssh.SSHClientConnection] = []  # [jump,] target
        known = os.path.expanduser(options.known_hosts or host.known_hosts or DEFAULT_KNOWN_HOSTS)
        identity = os.path.expanduser(host.identity_file) if host.identity_file else None
        self._target = _Endpoint(host.name, host.user, host.address, host.port, identity, known)

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """SFTP to a temp file, then rename it over ``path`` (``sudo install`` if become)."""
        conn = await self._connection()
        become = self._host.become
        suffix = secrets.token_hex(6)
        tmp = f"/tmp/stackstep-{suffix}" if become else f"{path}.stackstep-{suffix}"
        with _translated(self._target):
            async with conn.start_sftp_client() as sftp:
                try:
                    async with sftp.open(tmp, "wb") as handle:
                        await handle.write(data)
                    await sftp.chmod(tmp, mode)
                    if become:
                        await self._sudo_checked(["install", "-m", f"{mode:o}", tmp, path])
                    else:
                        await sftp.posix_rename(tmp, path)
                finally:
                    with contextlib.suppress(asyncssh.SFTPError):
                        await sftp.remove(tmp)

    async def get(self, path: str) -> bytes:
        if self._host.become:
            return await self._sudo_checked(["cat", "--", path])
        conn = await self._connection()
        with _translated(self._target):
            async with conn.start_sftp_client() as sftp, sftp.open(path, "rb") as handle:
                data: bytes = await handle.read()
                return data

    async def close(self) -> None:
        async with self._lock:
            conns, self._conns = self._conns, []
        for conn in reversed(conns):  # the target first, then the jump host under it
            conn.close()
            with contextlib.suppress(asyncssh.Error, OSError):
                await conn.wait_closed()

    async def _sudo_checked(self, argv: list[str]) -> bytes:
        return await self._checked(
            Command(tuple(argv)), lambda result: f"`sudo {result.command}` failed: {result.tail()}"
        )

    async def _exec(
        self, command: Command, stdin: str | None, limit: float
    ) -> tuple[int, bytes, bytes]:
        conn = await self._connection()
        line = shlex.join(remote_argv(self._host, command, limit))
        started = time.monotonic()
        with _translated(self._target):
            try:
                async with self._channels, asyncio.timeout(limit):
                    proc = await conn.create_process(line, encoding=None, **_stdin_args(stdin))
                    try:
                        out, err = await proc.communicate()
                    except BaseException:
                        _stop(proc)
                        raise
            except TimeoutError:
                raise CommandTimeout(self.host, command.render(), limit) from None
        status = proc.returncode
        if status is None and conn.is_closed():  # asyncssh ends the channel quietly
            lost = asyncssh.ConnectionLost("the connection closed while the command ran")
            raise _translate(self._target, lost)
        if status in _TIMEOUT_STATUSES and time.monotonic() - started >= limit:
            raise CommandTimeout(self.host, command.render(), limit)  # the remote timer won
        return (255 if status is None else status), _bytes(out), _bytes(err)

    async def _connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conns and not self._conns[-1].is_closed():
                return self._conns[-1]
            for old in self._conns:
                old.close()
            self._conns = await self._open()
            return self._conns[-1]

    async def _open(self) -> list[asyncssh.SSHClientConnection]:
        if not self._host.jump:
            return [await self._connect(self._target, None)]
        try:
            user, address, port = parse_jump(self._host.jump, self._host.user)
        except ValueError as exc:
            raise TransportError(self.host, str(exc)) from None
        jump_end = _Endpoint(
            self.host,
            user,
            address,
            port,
            self._target.identity_file,
            self._target.known_hosts,
            role="jump host",
        )
        jump = await self._connect(jump_end, None)
        try:
            return [jump, await self._connect(self._target, jump)]
        except BaseException:
            jump.close()
            raise

    async def _connect(
        self, end: _Endpoint, tunnel: asyncssh.SSHClientConnection | None
    ) -> asyncssh.SSHClientConnection:
        accept_new = self._options.accept_new_host_keys
        with _translated(end, ValueError):
            sock = None
            if self._host.netns and tunnel is None:
                sock = await asyncio.to_thread(
                    connect_in_netns,
                    self._host.netns,
                    end.address,
                    end.port,
                    self._options.connect_timeout,
                )
            return await asyncssh.connect(
                end.address,
                end.port,
                sock=sock,
                tunnel=tunnel or (),
                username=end.user,
                known_hosts=_read_known_hosts(end.known_hosts),
                client_keys=[end.identity_file] if end.identity_file else (),
                client_factory=lambda: _Client(end, accept_new),
                config=None,
                connect_timeout=self._options.connect_timeout,
                keepalive_interval=self._options.keepalive_interval,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
            )


def remote_argv(host: Host, command: Command, limit: float) -> list[str]:
    """``[sudo -n --] timeout -k 5 LIMIT [env K=V ...] argv``: what the host runs.

    GNU ``timeout`` stops the command (its whole process group) on the host itself: OpenSSH
    ignores signal requests on root sessions ("session signalling requires privilege
    separation"), and closing the channel alone leaves the command running.
    """
    seconds = f"{max(limit, 0.001):.3f}"  # "0" would mean no limit at all
    argv = [
        "timeout",
        "-k",
        str(KILL_AFTER),
        seconds,
        *host_argv(replace(host, become=False), command),
    ]
    return [*SUDO, *argv] if host.become else argv


def _stdin_args(text: str | None) -> dict[str, object]:
    """Feed ``text`` then EOF, or nothing at all: a command never waits on stdin."""
    return {"input": text.encode()} if text else {"stdin": asyncssh.DEVNULL}


def _stop(proc: asyncssh.SSHClientProcess[bytes]) -> None:
    """Ask the host to stop the command, then close its channel.

    TERM, not KILL: ``timeout`` (and ``sudo``) pass TERM on to the command they run.
    """
    with contextlib.suppress(OSError, asyncssh.Error):
        proc.terminate()
    proc.close()


def _bytes(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else data.encode()


@contextlib.contextmanager
def _translated(end: _Endpoint, *also: type[Exception]) -> Iterator[None]:
    """Raise what an asyncssh or OS error (or one of ``also``) in the block means, as a
    stackstep error about ``end`` (see :func:`_translate`)."""
    caught: tuple[type[Exception], ...] = (asyncssh.Error, OSError, *also)
    try:
        yield
    except caught as exc:
        raise _translate(end, exc) from exc


def _translate(end: _Endpoint, exc: BaseException) -> TransportError:
    """The one place where asyncssh and OSError failures become stackstep errors."""
    at = f"{end.role} {end.where}" if end.role != "host" else end.where
    if isinstance(exc, OSError) and exc.filename == end.known_hosts:
        why = f"cannot read {end.known_hosts}: {_reason(exc)}"
        return HostKeyError(
            end.name, why, hint="check its permissions, or pass another file with --known-hosts"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable) or (
        isinstance(exc, asyncssh.KeyExchangeFailed) and end.known_entries()
    ):  # KeyExchangeFailed: the host offers none of the key types known_hosts records
        return _host_key_error(end, at)
    if isinstance(exc, asyncssh.PermissionDenied | asyncssh.KeyImportError) or (
        isinstance(exc, FileNotFoundError) and exc.filename == end.identity_file
    ):
        keys = end.identity_file or "the default keys (~/.ssh/id_*)"
        return AuthenticationError(
            end.name,
            f"{at} refused {end.user!r}: authentication failed with {keys} and the agent"
            f" ({_reason(exc)})",
            hint=f"check the key is in ~{end.user}/.ssh/authorized_keys on {end.address},"
            " or that ssh-agent holds it (SSH_AUTH_SOCK)",
        )
    if isinstance(exc, asyncssh.SFTPError) and not isinstance(exc, asyncssh.SFTPConnectionLost):
        return TransportError(end.name, f"file transfer with {at} failed: {_reason(exc)}")
    if isinstance(exc, asyncssh.ConnectionLost | asyncssh.SFTPConnectionLost):
        lost = f"connection to {at} lost: {_reason(exc)}"
        return HostUnreachable(end.name, lost, hint="is the host up? did it reboot?")
    if isinstance(exc, OSError | asyncssh.ChannelOpenError):
        failed = f"cannot connect to {at}: {_reason(exc)}"
        return HostUnreachable(end.name, failed, hint="is the host up and sshd listening?")
    return TransportError(end.name, f"SSH to {at} failed: {_reason(exc)}")


def _host_key_error(end: _Endpoint, at: str) -> HostKeyError:
    scan = f"ssh-keyscan -p {end.port} {end.address} >> {end.known_hosts}"
    entry = end.address if end.port == 22 else f"[{end.address}]:{end.port}"
    if end.known_entries():
        return HostKeyError(
            end.name,
            f"the host key of {at} differs from the one in {end.known_hosts}:"
            " it may have been reinstalled, or this may be an attack (man in the middle)",
            hint=f"if you know why the key changed, remove the old line"
            f" (ssh-keygen -R '{entry}' -f {end.known_hosts}), then {scan}",
        )
    return HostKeyError(
        end.name,
        f"the host key of {at} is unknown (not in {end.known_hosts})",
        hint=f"check it and record it: {scan} ; or pass --accept-new-host-keys",
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"name not found ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
