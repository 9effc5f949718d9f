"""A run's load (``--load RATE``): per service and request, what the load generator sent
through the load balancer and what failed, over every load session of the run (an
upgrade, then its resumes), and whether the generator kept the rate it was asked.

:func:`analyse` is pure; :func:`run_load` reads a journal. The end-of-run summary
(:func:`load_lines`), ``--json`` (:func:`load_json`) and ``stackstep report`` all use this
one reading. The figures' definitions are in :mod:`stackstep.model.load`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackstep.engine.journal import Journal
from stackstep.model.load import LoadCount, LoadFailure, LoadSession
from stackstep.model.plan import Json

KEPT_SHARE = 0.95  # a stream kept its rate when it sent at least this share of it...
LATE_SHARE = 0.05  # ...and at most this share of its requests went out late


@dataclass(frozen=True)
class StreamLoad:
    """One request kind of one service over every session: ``rate`` asked and
    ``achieved`` (requests sent per second, None under a second) weighted by each
    session's time."""

    request: str
    rate: float
    achieved: float | None
    requests: int
    failed: int
    kinds: Mapping[str, int]
    late: int

    @property
    def kept_rate(self) -> bool:
        if self.achieved is not None and self.achieved < KEPT_SHARE * self.rate:
            return False
        return self.late <= LATE_SHARE * self.requests


@dataclass(frozen=True)
class ServiceLoad:
    service: str
    endpoint: str
    streams: tuple[StreamLoad, ...]
    failures: tuple[LoadFailure, ...]  # the ones kept (each session's first N)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.streams)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.streams)

    @property
    def kinds(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for s in self.streams:
            total.update(s.kinds)
        return dict(total.most_common())


@dataclass(frozen=True)
class Load:
    sessions: tuple[LoadSession, ...]
    services: tuple[ServiceLoad, ...]

    @property
    def asked(self) -> bool:
        """A command of the run ran with ``--load``."""
        return bool(self.sessions)

    @property
    def ran(self) -> bool:
        """Requests were sent (some endpoint was loaded)."""
        return bool(self.services)

    @property
    def tokens_off(self) -> str:
        """Why keystone got GETs instead of tokens, in the sessions that say so."""
        return "; ".join(dict.fromkeys(s.tokens_off for s in self.sessions if s.tokens_off))

    @property
    def kept_rate(self) -> bool:
        return all(s.kept_rate for svc in self.services for s in svc.streams)


def analyse(sessions: Sequence[LoadSession]) -> Load:
    """The run's load from its sessions: per service (in the order first loaded) and
    request kind, the counts summed and the rates weighted by each session's time."""
    streams: dict[tuple[str, str], list[LoadCount]] = {}
    endpoints: dict[str, str] = {}
    for session in sessions:
        for c in session.counts:
            streams.setdefault((c.service, c.request), []).append(c)
            endpoints.setdefault(c.service, c.endpoint)
    services = [
        ServiceLoad(
            service,
            endpoint,
            tuple(
                _stream(request, counts) for (s, request), counts in streams.items() if s == service
            ),
            tuple(f for session in sessions for f in session.failures if f.service == service),
        )
        for service, endpoint in endpoints.items()
    ]
    return Load(tuple(sessions), tuple(services))


def _stream(request: str, counts: list[LoadCount]) -> StreamLoad:
    kinds: Counter[str] = Counter()
    for c in counts:
        kinds.update(c.kinds)
    timed = [c for c in counts if c.achieved is not None]
    spent = sum(c.duration for c in counts)
    span = sum(c.duration for c in timed)
    return StreamLoad(
        request,
        sum(c.rate * c.duration for c in counts) / spent if spent else counts[-1].rate,
        sum((c.achieved or 0.0) * c.duration for c in timed) / span if span else None,
        sum(c.requests for c in counts),
        sum(c.failed for c in counts),
        dict(kinds.most_common()),
        sum(c.late for c in counts),
    )


def run_load(journal: Journal, run_id: str) -> Load:
    """The load of a journalled run (its load sessions so far)."""
    return analyse(journal.load_sessions(journal.run(run_id).id))


# -- the summary and --json -----------------------------------------------------------

StyledLine = tuple[str, str]  # text, rich style ("": none)


def _kinds_text(kinds: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in kinds.items())


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def load_lines(load: Load) -> list[StyledLine]:
    """The load as a short table (per service and request: requests, failed, asked/s,
    sent/s, the failures by kind), with why keystone got no token requests and whether
    the rate was kept; nothing when no command of the run ran with ``--load``."""
    out: list[StyledLine] = []
    if not load.asked:
        return out
    notes = list(dict.fromkeys(s.note for s in load.sessions if s.note))
    if not load.ran:
        why = "; ".join(notes) or "no count recorded (stopped within its first second?)"
        out.append((f"load: nothing sent: {why}", "yellow"))
        return out
    rates = "/".join(f"{r:g}" for r in dict.fromkeys(s.rate for s in load.sessions))
    timeouts = "/".join(f"{t:g}" for t in dict.fromkeys(s.timeout for s in load.sessions))
    failed = sum(s.failed for s in load.services)
    out.append(
        (
            f"load through the load balancer (--load {rates}; no retry, {timeouts} s timeout): "
            f"{failed} failed request(s)",
            "bold" if not failed else "bold red",
        )
    )
    head = ["service", "request", "requests", "failed", "asked/s", "sent/s"]
    rows = [
        (
            [
                svc.service,
                s.request,
                str(s.requests),
                str(s.failed),
                _rate(s.rate),
                _rate(s.achieved),
            ],
            _kinds_text(s.kinds),
            "red" if s.failed else "",
        )
        for svc in load.services
        for s in svc.streams
    ]
    width = max(len(cells[0]) for cells, _, _ in [(head, "", ""), *rows])
    wide = max(len(cells[1]) for cells, _, _ in [(head, "", ""), *rows])
    for cells, kinds, style in [(head, "failures", "bold"), *rows]:
        name, request, *figures = cells
        text = f"  {name:<{width}}  {request:<{wide}}" + "".join(
            f"  {f:>{len(h)}}" for f, h in zip(figures, head[2:], strict=True)
        )
        out.append((f"{text}  {kinds}".rstrip(), style))
    if load.tokens_off:
        out.append((f"  token load off: {load.tokens_off}; keystone got GETs only", "yellow"))
    for svc in load.services:
        for s in svc.streams:
            if not s.kept_rate:
                out.append(
                    (
                        f"  !! the load generator could not keep its rate: {svc.service} "
                        f"{s.request} asked {s.rate:.1f}/s, sent {_rate(s.achieved)}/s, "
                        f"{s.late} late",
                        "bold red",
                    )
                )
    return out


def load_json(load: Load) -> dict[str, Json]:
    """The figures of :func:`load_lines` as data (docs/downtime.md, "Load while
    upgrading")."""
    return {
        "asked": load.asked,
        "ran": load.ran,
        "kept_rate": load.kept_rate,
        "tokens_off": load.tokens_off or None,
        "sessions": [
            {
                "command": s.command,
                "started": s.started,
                "ended": s.ended,
                "rate": s.rate,
                "timeout": s.timeout,
                "keep": s.keep,
                "tokens_off": s.tokens_off or None,
                "note": s.note or None,
            }
            for s in load.sessions
        ],
        "services": [
            {
                "service": svc.service,
                "endpoint": svc.endpoint,
                "requests": svc.requests,
                "failed": svc.failed,
                "kinds": dict(svc.kinds),
                "streams": [_stream_json(s) for s in svc.streams],
            }
            for svc in load.services
        ],
    }


def _stream_json(s: StreamLoad) -> dict[str, Json]:
    return {
        "request": s.request,
        "rate": round(s.rate, 3),
        "achieved": None if s.achieved is None else round(s.achieved, 3),
        "kept_rate": s.kept_rate,
        "requests": s.requests,
        "failed": s.failed,
        "kinds": dict(s.kinds),
        "late": s.late,
    }


def load_report(load: Load) -> dict[str, Json]:
    """:func:`load_json` with each service's kept failures (``stackstep report``)."""
    doc = load_json(load)
    services = doc["services"]
    assert isinstance(services, list)
    for row, svc in zip(services, load.services, strict=True):
        assert isinstance(row, dict)
        row["failures"] = [
            {"at": f.at, "request": f.request, "kind": f.kind, "detail": f.detail}
            for f in svc.failures
        ]
    return doc
