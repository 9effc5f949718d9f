"""The availability prober: polls HTTP probes while a run goes on, keeps transitions.

Each target is polled on its own task every ``interval`` seconds (a slow target does not
delay the others) with the verify step's HTTP probe (``health.http_check``: a GET that
answers one of ``expect``), each request bounded by ``timeout`` (below the interval).
A sample is stamped when its request is sent (``time.time()``, the journal's clock).
Only transitions reach ``on_transition``: each target's first sample, then every change
of up/down, each with the time of the sample before it (the change happened between).
Nothing it meets raises into the run: a request that fails in any way is a down sample
naming the error; a sink that raises is noted in ``errors`` and the polling goes on.
Connections are not kept alive: every sample opens its own, as a user would after a
restart.

Use it as an async context manager (``async with Prober(...):``) or ``start()`` then
``await stop()``; httpx is imported only when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from stackstep.engine.health import http_check
from stackstep.model.availability import ProbeTarget, Transition

if TYPE_CHECKING:
    import httpx

DEFAULT_INTERVAL = 0.2
TIMEOUT_SHARE = 0.75  # of the interval: the default bound of one request

Sink = Callable[[Transition], None]


@dataclass(frozen=True)
class HttpTarget:
    """A target and its probe: GET ``url``, up when it answers one of ``expect``."""

    target: ProbeTarget
    url: str
    expect: tuple[int, ...] = (200,)


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
        if timeout is not None and not 0 < timeout < interval:
            raise ValueError(f"probe timeout must be above 0 s and below {interval} s")
        self.timeout = timeout if timeout is not None else interval * TIMEOUT_SHARE
        self.errors: list[str] = []
        self._sink = on_transition
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Start polling (in the running event loop)."""
        import httpx  # noqa: PLC0415  (costs start-up; only a probed run pays it)

        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._tasks = [asyncio.create_task(self._poll(t, self._client)) for t in self.targets]

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

    async def _poll(self, target: HttpTarget, client: httpx.AsyncClient) -> None:
        last: bool | None = None
        previous: float | None = None  # when the last sample was sent
        tick = time.monotonic()
        while not self._stopped.is_set():
            at = time.time()
            up, detail = await self._sample(target, client)
            if up != last:
                self._emit(Transition(target.target, at, up, detail, previous))
                last = up
            previous = at
            tick = max(tick + self.interval, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), tick - time.monotonic())

    async def _sample(self, target: HttpTarget, client: httpx.AsyncClient) -> tuple[bool, str]:
        try:
            return await asyncio.wait_for(
                http_check(client, target.url, target.expect), self.timeout
            )
        except Exception as exc:  # any failure is a down sample, never the run's error
            return False, f"GET {target.url}: {type(exc).__name__}: {exc or 'no answer'}"

    def _emit(self, transition: Transition) -> None:
        try:
            self._sink(transition)
        except Exception as exc:
            self.errors.append(f"{transition.target.label}: {type(exc).__name__}: {exc}")
