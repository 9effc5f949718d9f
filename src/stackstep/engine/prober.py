"""The availability prober: polls HTTP probes while a run goes on, keeps transitions.

Each target is polled on its own task every ``interval`` seconds (a slow target does not
delay the others) with the verify step's HTTP probe (``health.http_check``: a GET that
answers one of ``expect``), each request bounded by ``timeout`` (1 s by default, not tied
to the interval: an API that answers in 0.3 s on a loaded machine is slow, not down; a
connection refused is down at once). A target's samples never overlap: while one waits,
the next is not sent. A sample is stamped when its request is sent (``time.time()``,
the journal's clock), so a window starts at the first request that failed, however long
it took to fail.
Only transitions reach ``on_transition``: each target's first sample, then every change
of up/down, each with the time of the sample before it (the change happened between).
Nothing it meets raises into the run: a request that fails in any way is a down sample
naming the error; a sink that raises is noted in ``errors`` and the polling goes on.
Connections are not kept alive: every sample opens its own, as a user would after a
restart.

A target with a ``netns`` (a lab host, whose address exists only inside the lab's
network namespaces) is sampled through a socket opened inside that namespace
(``transport/netns.py``, in a worker thread) with the same GET, spoken with h11.

Use it as an async context manager (``async with Prober(...):``) or ``start()`` then
``await stop()``; httpx is imported only when it starts (in a worker thread, and only
when a target needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit, urlunsplit

from stackstep.engine.health import http_check
from stackstep.model.availability import ProbeTarget, Transition
from stackstep.model.inventory import Inventory
from stackstep.model.params import Probe
from stackstep.model.plan import Step, StepKind
from stackstep.transport.netns import connect_in_netns

if TYPE_CHECKING:
    import httpx

    from stackstep.engine.journal import Journal

DEFAULT_INTERVAL = 0.2
DEFAULT_TIMEOUT = 1.0  # seconds one request may take before it counts as failed

Sink = Callable[[Transition], None]


@dataclass(frozen=True)
class HttpTarget:
    """A target and its probe: GET ``url``, up when it answers one of ``expect``."""

    target: ProbeTarget
    url: str
    expect: tuple[int, ...] = (200,)
    netns: str | None = None  # open the connection inside this network namespace


def probe_targets(steps: Iterable[Step], inventory: Inventory) -> list[HttpTarget]:
    """What a run probes (``steps``: its plan's): each verify step's API probe (its
    service on its host), and each service's load-balanced endpoint when the inventory
    declares one (``endpoints:``: the URL itself; ``vip:``: the service's probe with its
    host replaced by the VIP), with the codes its verify steps expect. A lab host is
    probed from its network namespace; an endpoint from the one namespace its service's
    hosts share, if they do."""
    hosts = {h.name: h for h in inventory.hosts}
    found: dict[ProbeTarget, HttpTarget] = {}
    per_service: dict[str, list[tuple[Probe, str | None]]] = {}
    for step in steps:
        probe = getattr(step.params, "probe", None)
        if step.kind != StepKind.VERIFY or probe is None or not step.service or not step.host:
            continue
        netns = hosts[step.host].netns if step.host in hosts else None
        target = ProbeTarget(step.service, host=step.host)
        found.setdefault(target, HttpTarget(target, probe.url, probe.expect, netns))
        per_service.setdefault(step.service, []).append((probe, netns))
    for service, probes in sorted(per_service.items()):
        url = inventory.endpoints.get(service)
        if url is None and inventory.vip:
            url = _behind(probes[0][0].url, inventory.vip)
        if url is None:
            continue
        shared = {netns for _, netns in probes}
        netns = shared.pop() if len(shared) == 1 else None
        target = ProbeTarget(service, endpoint=url)
        found[target] = HttpTarget(target, url, probes[0][0].expect, netns)
    return list(found.values())


def _behind(url: str, vip: str) -> str:
    """``url`` with its host replaced by ``vip`` (port, path and query kept)."""
    parts = urlsplit(url)
    host = f"[{vip}]" if ":" in vip else vip
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class Prober:
    def __init__(
        self,
        targets: Sequence[HttpTarget],
        on_transition: Sink,
        interval: float = DEFAULT_INTERVAL,
        timeout: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"probe interval must be above 0 s, not {interval}")
        self.targets = tuple(targets)
        self.interval = interval
        if timeout is not None and timeout <= 0:
            raise ValueError(f"probe timeout must be above 0 s, not {timeout}")
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.errors: list[str] = []
        self._sink = on_transition
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Start polling (in the running event loop). httpx is imported in a worker
        thread, and only when a target is not in a namespace: the run's first step does
        not wait for it."""
        self._tasks = [asyncio.create_task(self._main())]

    async def _main(self) -> None:
        if any(not t.netns for t in self.targets):
            httpx = await asyncio.to_thread(importlib.import_module, "httpx")
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        else:
            await asyncio.to_thread(importlib.import_module, "h11")
        await asyncio.gather(*(self._poll(t) for t in self.targets))

    async def stop(self) -> None:
        """Stop polling; returns once every task has ended and the client is closed."""
        self._stopped.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    async def __aenter__(self) -> Prober:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _poll(self, target: HttpTarget) -> None:
        last: bool | None = None
        previous: float | None = None  # when the last sample was sent
        tick = time.monotonic()
        while not self._stopped.is_set():
            at = time.time()
            up, detail = await self._sample(target)
            if up != last:
                self._emit(Transition(target.target, at, up, detail, previous))
                last = up
            previous = at
            tick = max(tick + self.interval, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), tick - time.monotonic())

    async def _sample(self, target: HttpTarget) -> tuple[bool, str]:
        try:
            if target.netns:
                check = netns_check(target.netns, target.url, target.expect, self.timeout)
            elif self._client is not None:
                check = http_check(self._client, target.url, target.expect)
            else:  # cannot happen: _main makes the client before any target polls
                return False, f"GET {target.url}: no HTTP client"
            return await asyncio.wait_for(check, self.timeout)
        except Exception as exc:  # any failure is a down sample, never the run's error
            return False, f"GET {target.url}: {type(exc).__name__}: {exc or 'no answer'}"

    def _emit(self, transition: Transition) -> None:
        try:
            self._sink(transition)
        except Exception as exc:
            self.errors.append(f"{transition.target.label}: {type(exc).__name__}: {exc}")


async def netns_check(
    netns: str, url: str, expect: Collection[int], timeout: float
) -> tuple[bool, str]:
    """:func:`http_check` through a connection opened inside ``netns`` (plain HTTP)."""
    import h11  # noqa: PLC0415  (httpx's own HTTP/1.1 parser)

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False, f"GET {url}: only http:// is probed from a network namespace"
    port = parts.port or 80
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        sock = await loop.run_in_executor(
            None, connect_in_netns, netns, parts.hostname, port, timeout
        )
        reader, writer = await asyncio.open_connection(sock=sock)
    except OSError as exc:
        return False, f"GET {url}: {type(exc).__name__}: {exc}"
    try:
        status = await _h11_get(h11, reader, writer, parts)
    except (OSError, h11.ProtocolError, EOFError) as exc:
        return False, f"GET {url}: {type(exc).__name__}: {exc or 'no answer'}"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    detail = f"GET {url} -> {status} in {time.monotonic() - started:.2f} s"
    if status in expect:
        return True, detail
    return False, detail + f" (expected {'/'.join(map(str, expect))})"


async def _h11_get(
    h11: ModuleType, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: SplitResult
) -> int:
    """Send one GET, read until the response's head; its status code."""
    conn = h11.Connection(h11.CLIENT)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = [("Host", url.netloc), ("Connection", "close"), ("User-Agent", "stackstep-prober")]
    writer.write(conn.send(h11.Request(method="GET", target=target, headers=headers)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            if not data:
                raise EOFError("the connection closed before an answer")
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            return int(event.status_code)


@dataclass(frozen=True)
class ProbeSettings:
    """``--no-probe`` and ``--probe-interval``, as a command hands them to its run."""

    enabled: bool = True
    interval: float = DEFAULT_INTERVAL


@contextlib.asynccontextmanager
async def probing(
    journal: Journal,
    run_id: str,
    command: str,
    targets: Sequence[HttpTarget],
    settings: ProbeSettings,
) -> AsyncIterator[Prober | None]:
    """Probe ``targets`` while the body runs, as one probe session of ``run_id`` in the
    journal (``command`` names it): every transition is journalled as it is seen. Yields
    the prober, or None when probing is off or there is nothing to probe."""
    if not settings.enabled or not targets:
        yield None
        return
    session = journal.probe_started(run_id, command, settings.interval)

    def journalled(transition: Transition) -> None:
        journal.add_transition(session, transition)

    prober = Prober(targets, journalled, settings.interval)
    prober.start()
    try:
        yield prober
    finally:
        await prober.stop()
        journal.probe_ended(session)
