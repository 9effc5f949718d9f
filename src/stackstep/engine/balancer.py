"""Take servers out of HAProxy and put them back, and wait until HAProxy agrees.

Each function works on one load balancer host (its transport) and its admin socket, for
(backend, server) pairs; a rolling step calls them for every LB host. The commands are
``drivers/haproxy.py``'s. A failure is a :class:`~stackstep.errors.StepFailed` of the
calling step, on the LB host, naming each pair with what HAProxy last said of it and the
fix. The waits poll ``show stat`` every ``interval`` seconds and give back how long they
waited (:class:`Waited`), which the journal keeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stackstep.drivers import haproxy
from stackstep.drivers.haproxy import ServerStat, State
from stackstep.errors import StepFailed
from stackstep.model.plan import Json
from stackstep.transport.base import Result, Transport

Pair = tuple[str, str]  # (backend, server) as haproxy.cfg names them
OnResult = Callable[[Result], None]
COMMAND_TIMEOUT = 30.0  # s for one command on the socket (the script itself gives up at 10)
NAMES_HINT = "check load_balancer.backends/server in the inventory"
SOCKET_HINT = (
    "check load_balancer.socket in the inventory: it must be haproxy.cfg's "
    "`stats socket PATH ... level admin` on every LB host, and HAProxy must run there"
)


@dataclass(frozen=True)
class Waited:
    """A wait that ended well: on which LB host, how long, how many polls, and what
    ``show stat`` said last of each pair."""

    host: str
    seconds: float
    polls: int
    stats: dict[Pair, ServerStat]

    def to_json(self) -> dict[str, Json]:
        return {
            "lb": self.host,
            "waited": round(self.seconds, 3),
            "polls": self.polls,
            "servers": {f"{b}/{s}": stat.status for (b, s), stat in self.stats.items()},
        }


def _ignore(result: Result) -> None:
    return None


def _missing(host: str, pair: Pair, stats: dict[Pair, ServerStat]) -> str:
    backend, server = pair
    if not any(b == backend for b, _ in stats):
        return f"HAProxy on {host} has no backend {backend} (with servers): {NAMES_HINT}"
    return f"backend {backend} has no server {server} on {host}: {NAMES_HINT}"


async def set_state(
    transport: Transport,
    socket: str,
    pairs: Sequence[Pair],
    state: State,
    *,
    step_id: str,
    on_result: OnResult = _ignore,
) -> list[Result]:
    """``set server B/S state STATE`` for each pair on this LB host (repeating one is
    harmless: HAProxy answers nothing again). StepFailed when HAProxy refuses one."""
    results = []
    for backend, server in pairs:
        result = await transport.run(
            haproxy.set_state(socket, backend, server, state), timeout=COMMAND_TIMEOUT
        )
        on_result(result)
        results.append(result)
        _check_ran(step_id, transport.host, result)
        refused = haproxy.set_state_error(result.stdout)
        if refused is None:
            continue
        if refused == "No such server.":
            message = f"backend {backend} has no server {server} on {transport.host}: {NAMES_HINT}"
        elif refused == "No such backend.":
            message = f"HAProxy on {transport.host} has no backend {backend}: {NAMES_HINT}"
        else:
            message = f"HAProxy refused `set server {backend}/{server} state {state}`: {refused}"
        hint = SOCKET_HINT if refused.startswith("Permission denied") else None
        raise StepFailed(step_id, transport.host, message, output_tail=result.tail(), hint=hint)
    return results


def _check_ran(step_id: str, host: str, result: Result) -> None:
    if result.ok:
        return
    hint = SOCKET_HINT
    if result.exit_status in (126, 127):  # as a shell says it: not runnable, not found
        hint = f"stackstep talks to HAProxy's socket with python3: install it on {host}"
    raise StepFailed(
        step_id,
        host,
        result.stderr.strip() or f"`{result.command}` exited with status {result.exit_status}",
        exit_status=result.exit_status,
        output_tail=result.tail(),
        hint=hint,
    )


async def show_stat(
    transport: Transport, socket: str, *, step_id: str, on_result: OnResult = _ignore
) -> dict[Pair, ServerStat]:
    """The servers of ``show stat`` on this LB host. StepFailed when the socket cannot
    be reached or the answer is not ``show stat``'s CSV."""
    result = await transport.run(haproxy.show_stat(socket), timeout=COMMAND_TIMEOUT)
    on_result(result)
    _check_ran(step_id, transport.host, result)
    try:
        return haproxy.parse_stat(result.stdout)
    except ValueError as exc:
        raise StepFailed(
            step_id,
            transport.host,
            f"cannot read HAProxy's servers: {exc}",
            output_tail=result.tail(),
            hint=SOCKET_HINT,
        ) from exc


Wanted = Callable[[ServerStat], bool]
Hint = Callable[[list[ServerStat]], str]


async def _wait(
    transport: Transport,
    socket: str,
    pairs: Sequence[Pair],
    timeout: float,
    interval: float,
    step_id: str,
    on_result: OnResult,
    until: tuple[Wanted, str, Hint],
) -> Waited:
    """Poll until every pair is ``wanted``; after ``timeout``, StepFailed saying
    ``not_yet`` for each pair still not wanted, with ``hint(those)``. The first and the
    last poll go to ``on_result`` (the ones between would only repeat them)."""
    wanted, not_yet, hint = until
    host = transport.host
    started = time.monotonic()
    deadline = started + timeout
    polls = 0
    last: Result | None = None

    def keep(result: Result) -> None:
        nonlocal last
        last = result
        if polls == 0:
            on_result(result)

    while True:
        stats = await show_stat(transport, socket, step_id=step_id, on_result=keep)
        polls += 1
        for pair in pairs:
            if pair not in stats:
                raise StepFailed(step_id, host, _missing(host, pair, stats))
        pending = [stats[pair] for pair in pairs if not wanted(stats[pair])]
        now = time.monotonic()
        if not pending or now >= deadline:
            if polls > 1 and last is not None:
                on_result(last)
            break
        await asyncio.sleep(min(interval, deadline - now))
    if pending:
        raise StepFailed(
            step_id,
            host,
            f"{not_yet} on {host} after {timeout:g} s: " + "; ".join(s.describe() for s in pending),
            hint=hint(pending),
            data={"lb": host, **_pending_json(pending)},
        )
    seen = {pair: stats[pair] for pair in pairs}
    return Waited(host, now - started, polls, seen)


def _drain_hint(pending: list[ServerStat]) -> str:
    fixes = []
    if any(not haproxy.is_out(s) for s in pending):
        fixes.append(
            "HAProxy still sends it traffic: its health check still passes (is the service's "
            "disable file honoured, does haproxy.cfg check /healthcheck?) or the drain was undone"
        )
    if any(haproxy.is_out(s) for s in pending):
        fixes.append(
            "clients still hold sessions on it (long requests, uploads): wait for them, or "
            "raise load_balancer.drain_timeout"
        )
    return "; ".join(fixes) + "; then resume"


def _up_hint(pending: list[ServerStat]) -> str:
    return (
        "HAProxy's health check of the server fails (its check status says how: "
        "L7STS = an HTTP error, L4CON = nothing listens) or the server is in DRAIN/MAINT: "
        "look at the service on the node, remove its disable file, or raise "
        "load_balancer.up_timeout; then resume"
    )


async def wait_out(
    transport: Transport,
    socket: str,
    pairs: Sequence[Pair],
    timeout: float,
    interval: float = 0.5,
    *,
    step_id: str,
    on_result: OnResult = _ignore,
) -> Waited:
    """Wait until HAProxy on this LB host sends none of the pairs new traffic and their
    sessions are done (``haproxy.is_drained``: DOWN, DRAIN, MAINT or NOLB, and scur 0).
    StepFailed at once for a pair HAProxy does not know, and after ``timeout`` seconds
    naming each pair still not drained, its status and its sessions."""
    until = (haproxy.is_drained, "not drained", _drain_hint)
    return await _wait(transport, socket, pairs, timeout, interval, step_id, on_result, until)


async def wait_in(
    transport: Transport,
    socket: str,
    pairs: Sequence[Pair],
    timeout: float,
    interval: float = 0.5,
    *,
    step_id: str,
    on_result: OnResult = _ignore,
) -> Waited:
    """Wait until HAProxy on this LB host sends every pair traffic again
    (``haproxy.is_in``: UP, or ``no check``). StepFailed at once for a pair HAProxy does
    not know, and after ``timeout`` seconds naming each pair not up, its status and its
    last health check (e.g. ``L7STS 503``)."""
    until = (haproxy.is_in, "not back in load balancing", _up_hint)
    return await _wait(transport, socket, pairs, timeout, interval, step_id, on_result, until)


def _pending_json(pending: Sequence[ServerStat]) -> dict[str, Json]:
    return {
        "pending": {
            f"{s.backend}/{s.server}": {
                "status": s.status,
                "scur": s.scur,
                "check": s.check_status,
            }
            for s in pending
        }
    }
