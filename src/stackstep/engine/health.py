"""Health checks: are units active, does an API answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TYPE_CHECKING

from stackstep.drivers import services
from stackstep.model.command import Command, cmd
from stackstep.model.facts import Facts, HostFacts
from stackstep.model.inventory import Host, InitSystem
from stackstep.transport.base import Result, Transport

if TYPE_CHECKING:
    import httpx


def init_of(host: Host, found: HostFacts | None) -> InitSystem:
    """The init system a host is checked with: the inventory's ``init:`` when it sets
    one, else what discovery found, which the plan's commands were built from."""
    if host.init:
        return host.init
    return found.init if found is not None else "systemd"


def inits(hosts: Iterable[Host], facts: Facts) -> dict[str, InitSystem]:
    """Each host's :func:`init_of`."""
    found = {h.name: h for h in facts.hosts}
    return {h.name: init_of(h, found.get(h.name)) for h in hosts}


async def units_active(
    transport: Transport, init: InitSystem, units: list[str], timeout: float
) -> list[bool]:
    """One bool per unit: is it running? (systemctl is-active / LSB `service X status`)."""
    if not units:
        return []
    found = await commands_active(transport, services.is_active(init, tuple(units)), timeout)
    return [found.get(u, False) for u in units]


async def commands_active(
    transport: Transport, commands: Iterable[Command], timeout: float
) -> dict[str, bool]:
    """Run ``is-active`` commands (a verify step's own); unit -> is it running?"""
    checks = []
    for command in commands:
        result = await transport.run(command, timeout=timeout)
        checks.append((command, result.exit_status, result.stdout))
    return services.parse_active(checks)


Attempt = Callable[[], Awaitable[tuple[bool, str]]]


async def retry_until(attempt: Attempt, timeout: float) -> tuple[bool, str]:
    """Call ``attempt`` until it succeeds or ``timeout`` passes (backoff 0.25 s .. 5 s);
    the last (ok, detail) back."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        ok, detail = await attempt()
        if ok or time.monotonic() + delay > deadline:
            return ok, detail
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def http_probe(url: str, expect: list[int], timeout: float) -> tuple[bool, str]:
    """GET ``url`` until it answers one of ``expect`` or ``timeout`` passes (backoff)."""
    # imported here: httpx costs an upgrade ~30 ms of start-up before its first step
    import httpx  # noqa: PLC0415

    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False, trust_env=False) as client:

        async def attempt() -> tuple[bool, str]:
            return await http_check(client, url, expect)

        return await retry_until(attempt, timeout)


async def http_check(
    client: httpx.AsyncClient, url: str, expect: Collection[int]
) -> tuple[bool, str]:
    """One GET of ``url`` with ``client``: did it answer one of ``expect``, and the detail
    (status and time, or the error). :func:`http_probe`'s attempt, and the prober's sample."""
    import httpx  # noqa: PLC0415

    started = time.monotonic()
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return False, f"GET {url}: {type(exc).__name__}: {exc or 'no answer'}"
    elapsed = time.monotonic() - started
    detail = f"GET {url} -> {response.status_code} in {elapsed:.2f} s"
    if response.status_code in expect:
        return True, detail
    return False, detail + f" (expected {'/'.join(map(str, expect))})"


async def http_probe_from_host(
    transport: Transport, url: str, expect: list[int], timeout: float
) -> tuple[bool, str]:
    """The same probe, run with curl on the host itself: for hosts this machine cannot
    reach directly (the lab's namespaces, firewalled APIs)."""
    argv = ("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url)

    async def attempt() -> tuple[bool, str]:
        result = await transport.run(cmd(*argv), timeout=15)
        code = result.stdout.strip()
        detail = f"GET {url} (from the host) -> {code or 'no answer'}"
        if code.isdigit() and int(code) in expect:
            return True, detail
        return False, detail + f" (expected {'/'.join(map(str, expect))})"

    return await retry_until(attempt, timeout)


async def api_probe(
    transport: Transport, host: Host, url: str, expect: list[int], timeout: float
) -> tuple[bool, str]:
    """:func:`http_probe` from here, or with curl on the host when this machine cannot
    reach it directly (a lab host in its network namespace)."""
    if host.netns:
        return await http_probe_from_host(transport, url, expect, timeout)
    return await http_probe(url, expect, timeout)


async def smoke_check(
    transport: Transport, command: str, timeout: float, on_result: Callable[[Result], None]
) -> tuple[bool, str]:
    """Run the inventory's smoke ``command`` (``sh -c``) on the host until it exits 0 or
    ``timeout`` passes; the detail names the exit status and the output's last lines."""

    async def attempt() -> tuple[bool, str]:
        result = await transport.run(cmd("sh", "-c", command), timeout=min(timeout, 60.0))
        on_result(result)
        if result.exit_status == 0:
            return True, f"smoke `{command}` ok"
        tail = " | ".join(result.tail().splitlines()[-3:])
        return False, f"smoke `{command}` exited {result.exit_status}" + (
            f": {tail}" if tail else ""
        )

    return await retry_until(attempt, timeout)
