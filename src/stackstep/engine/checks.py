"""Health checks: are units active, does an API answer."""

from __future__ import annotations

import asyncio
import time

import httpx

from stackstep.model.command import cmd
from stackstep.model.inventory import Host
from stackstep.transport.base import Transport


async def units_active(
    transport: Transport, host: Host, units: list[str], timeout: float
) -> list[bool]:
    """One bool per unit: is it running? (systemctl is-active / LSB `service X status`)."""
    if not units:
        return []
    if host.init == "sysv":
        results = [await transport.run(cmd("service", u, "status"), timeout=timeout) for u in units]
        return [r.exit_status == 0 for r in results]
    result = await transport.run(cmd("systemctl", "is-active", *units), timeout=timeout)
    states = result.stdout.split()
    if len(states) != len(units):
        return [False] * len(units)
    return [state == "active" for state in states]


async def http_probe(url: str, expect: list[int], timeout: float) -> tuple[bool, str]:
    """GET ``url`` until it answers one of ``expect`` or ``timeout`` passes (backoff)."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    last = "no answer"
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False, trust_env=False) as client:
        while True:
            started = time.monotonic()
            try:
                response = await client.get(url)
                elapsed = time.monotonic() - started
                last = f"GET {url} -> {response.status_code} in {elapsed:.2f} s"
                if response.status_code in expect:
                    return True, last
                last += f" (expected {'/'.join(map(str, expect))})"
            except httpx.HTTPError as exc:
                last = f"GET {url}: {type(exc).__name__}: {exc or 'no answer'}"
            if time.monotonic() + delay > deadline:
                return False, last
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def http_probe_from_host(
    transport: Transport, url: str, expect: list[int], timeout: float
) -> tuple[bool, str]:
    """The same probe, run with curl on the host itself: for hosts this machine cannot
    reach directly (the lab's namespaces, firewalled APIs)."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    argv = ("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url)
    while True:
        result = await transport.run(cmd(*argv), timeout=15)
        code = result.stdout.strip()
        last = f"GET {url} (from the host) -> {code or 'no answer'}"
        if code.isdigit() and int(code) in expect:
            return True, last
        if time.monotonic() + delay > deadline:
            return False, last + f" (expected {'/'.join(map(str, expect))})"
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
