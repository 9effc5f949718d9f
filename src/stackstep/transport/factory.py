"""Choose a transport for a host, and keep one per host for the length of a run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from stackstep.model.inventory import Host
from stackstep.transport.base import Transport, TransportOptions
from stackstep.transport.local import LocalTransport
from stackstep.transport.ssh import SshTransport

Opener = Callable[[Host, TransportOptions], Transport]
T = TypeVar("T")


def open_transport(host: Host, options: TransportOptions) -> Transport:
    """The transport for ``host``: this machine when ``host.transport == "local"``, else SSH.

    Nothing connects yet: an SSH transport connects on its first command.
    """
    if host.transport == "local":
        return LocalTransport(host, options)
    return SshTransport(host, options)


class TransportPool:
    """One transport per host name, made on first ``get`` and all closed on exit.

    ``opener`` makes the transports (tests pass one that returns FakeTransports)::

        async with TransportPool(options) as pool:
            transport = await pool.get(host)
            result = await transport.run(cmd("uptime"))
    """

    def __init__(
        self, options: TransportOptions | None = None, *, opener: Opener = open_transport
    ) -> None:
        self.options = options or TransportOptions()
        self._opener = opener
        self._transports: dict[str, Transport] = {}

    async def get(self, host: Host) -> Transport:
        """The transport for ``host.name`` (made on first use; it connects lazily)."""
        transport = self._transports.get(host.name)
        if transport is None:
            transport = self._transports[host.name] = self._opener(host, self.options)
        return transport

    async def drop(self, host: Host, timeout: float = 5.0) -> None:
        """Close and forget ``host``'s transport: the next ``get`` makes a fresh one.

        After a reboot the old connection is dead, and may take the keepalive's whole
        allowance to notice it; closing it gives up after ``timeout`` seconds.
        """
        transport = self._transports.pop(host.name, None)
        if transport is not None:
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(transport.close(), timeout)

    async def close(self) -> None:
        """Close every transport at once; a failure to close one does not stop the rest."""
        transports, self._transports = list(self._transports.values()), {}
        await asyncio.gather(*(t.close() for t in transports), return_exceptions=True)

    async def __aenter__(self) -> TransportPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class PoolSession:
    """A :class:`TransportPool` and the event loop its connections live on, kept across
    several ``run`` calls: an upgrade's discovery and its steps share the connections,
    so each host is connected once::

        with PoolSession(options) as session:
            found = session.run(discover(hosts, session.pool, catalog))
            ...  # plan, ask, journal
            result = session.run(executor.execute())

    Each ``run`` is like ``asyncio.run`` (Ctrl-C cancels it), on the same loop. On exit
    every transport is closed, then the loop.
    """

    def __init__(
        self, options: TransportOptions | None = None, *, opener: Opener = open_transport
    ) -> None:
        self.pool = TransportPool(options, opener=opener)
        self._runner = asyncio.Runner()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def __enter__(self) -> PoolSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self.pool.close())
        finally:
            self._runner.close()
