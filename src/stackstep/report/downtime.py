"""A run's measured downtime: the prober's transitions (journal) and the steps' times,
made into outage windows per host, per service and per endpoint, each with the steps
that were running when it began, and each service's floor.

:func:`analyse` is pure (the figures' definitions are in
:mod:`stackstep.model.availability`); :func:`run_downtime` reads them from a journal.
The console summary, ``stackstep report`` and ``bench/downtime.py`` all use this one
reading, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackstep.engine.journal import Journal
from stackstep.model.availability import (
    OutageWindow,
    ProbeSession,
    ProbeTarget,
    StepSpan,
    outage_windows,
    service_floor,
    service_windows,
    steps_running_at,
)


@dataclass(frozen=True)
class Window:
    """An outage window, the probe session (command) that saw it, and the ids of the
    steps running when it began."""

    window: OutageWindow
    command: str
    steps: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return self.window.duration


@dataclass(frozen=True)
class ServiceDowntime:
    """One service: its own windows (every probed host down at once), its endpoints'
    windows, its floor; ``probed``: False when no probe watched it (no outage figure)."""

    service: str
    probed: bool
    windows: tuple[Window, ...]
    endpoints: Mapping[str, tuple[Window, ...]]
    floor: float | None

    @property
    def outage(self) -> float | None:
        """Seconds down in all (the sum of its windows); None when not probed."""
        return sum(w.duration for w in self.windows) if self.probed else None

    @property
    def ratio(self) -> float | None:
        """outage / floor, when both are known and the floor is above 0."""
        outage = self.outage
        if outage is None or not self.floor:
            return None
        return outage / self.floor


@dataclass(frozen=True)
class Downtime:
    sessions: tuple[ProbeSession, ...]
    services: tuple[ServiceDowntime, ...]
    hosts: Mapping[ProbeTarget, tuple[Window, ...]]  # every probed host target's windows

    @property
    def probed(self) -> bool:
        return bool(self.sessions)

    def service(self, name: str) -> ServiceDowntime | None:
        return next((s for s in self.services if s.service == name), None)


def analyse(
    sessions: Sequence[ProbeSession],
    spans: Sequence[StepSpan],
    services: Sequence[str],
    run_end: float | None = None,
) -> Downtime:
    """The downtime of a run from its probe sessions and its steps' times; ``services``:
    the plan's, in its order (every one gets a row, probed or not; default: those of
    ``spans``, in their order). The sessions are read
    as one timeline: a target down when its session ended (a killed upgrade) and still
    down at the next session's first probe (its resume) is one window across the gap,
    since nothing brought it back in between. Open windows end at the last session's end
    or, when it was killed, at the last moment the journal saw it alive (its steps'
    times, and ``run_end`` when given: the journal's last event)."""
    transitions = [t for session in sessions for t in session.transitions]
    end = run_end if run_end is not None else 0.0
    if sessions:  # never before what the journal saw
        end = max(end, _seen_until(sessions, len(sessions) - 1, spans))
    found = outage_windows(transitions, end)
    running = steps_running_at([w for ws in found.values() for w in ws], spans)

    def window(w: OutageWindow) -> Window:
        return Window(w, _command_at(sessions, w.start), running.get(w, ()))

    per_target = {t: tuple(window(w) for w in ws) for t, ws in found.items()}
    by_service = service_windows({t: ws for t, ws in found.items() if t.host})
    own_running = steps_running_at([w for ws in by_service.values() for w in ws], spans)
    floors = service_floor(spans)
    names = list(services) or [s for s in dict.fromkeys(x.service for x in spans) if s]
    rows = [
        ServiceDowntime(
            name,
            probed=name in by_service,
            windows=tuple(
                Window(w, _command_at(sessions, w.start), own_running.get(w, ()))
                for w in by_service.get(name, [])
            ),
            endpoints={
                t.endpoint: ws for t, ws in per_target.items() if t.service == name and t.endpoint
            },
            floor=floors.get(name),
        )
        for name in names
    ]
    hosts = {t: ws for t, ws in per_target.items() if t.host}
    return Downtime(tuple(sessions), tuple(rows), hosts)


def _seen_until(sessions: Sequence[ProbeSession], n: int, spans: Sequence[StepSpan]) -> float:
    """Where session ``n``'s windows end: its ``end``; for a session whose process was
    killed (no ``ended``), the last moment the journal saw that process alive (a step
    of it starting or ending), when later than its last transition: a target down at
    its last probe was not seen up again until then at least."""
    session = sessions[n]
    if session.ended is not None:
        return session.end
    upto = sessions[n + 1].started if n + 1 < len(sessions) else float("inf")
    times = [t for s in spans for t in (s.started, s.finished) if t is not None]
    return max([session.end, *(t for t in times if session.started <= t < upto)])


def _command_at(sessions: Sequence[ProbeSession], at: float) -> str:
    """The command of the probe session that was probing at ``at`` (the last that began
    before it)."""
    began = [s for s in sessions if s.started <= at]
    return began[-1].command if began else (sessions[0].command if sessions else "")


def run_downtime(journal: Journal, run_id: str) -> Downtime:
    """The downtime of a journalled run (of its probe sessions so far)."""
    record = journal.run(run_id)
    sessions = journal.probe_sessions(record.id)
    end = None
    if sessions and sessions[-1].ended is None:  # killed: the journal's last word
        end = max(sessions[-1].end, record.updated, journal.last_event_time(record.id) or 0.0)
    return analyse(sessions, journal.step_spans(record.id), (), end)
