"""A run's measured downtime: the prober's transitions (journal) and the steps' times,
made into outage windows per host, per service and per endpoint, each with the steps
that were running when it began, and each service's floor.

:func:`analyse` is pure (the figures' definitions are in
:mod:`stackstep.model.availability`); :func:`run_downtime` reads them from a journal.
The console summary, ``stackstep report`` and ``bench/downtime.py`` all use this one
reading, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackstep.engine.journal import Journal, StepRecord
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
from stackstep.model.plan import Json, steps_from_json


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
    sessions: Sequence[ProbeSession], spans: Sequence[StepSpan], services: Sequence[str]
) -> Downtime:
    """The downtime of a run from its probe sessions and its steps' times; ``services``:
    the plan's, in its order (every one gets a row, probed or not)."""
    per_target: dict[ProbeTarget, list[Window]] = {}
    for n, session in enumerate(sessions):
        found = outage_windows(session.transitions, _seen_until(sessions, n, spans))
        running = steps_running_at([w for ws in found.values() for w in ws], spans)
        for target, windows in found.items():
            per_target.setdefault(target, []).extend(
                Window(w, session.command, running.get(w, ())) for w in windows
            )
    raw = {t: [w.window for w in ws] for t, ws in per_target.items()}
    by_service = service_windows({t: ws for t, ws in raw.items() if t.host})
    floors = service_floor(spans)
    rows = []
    for name in services:
        own = by_service.get(name, [])
        running = steps_running_at(own, spans)
        rows.append(
            ServiceDowntime(
                name,
                probed=name in by_service,
                windows=tuple(
                    Window(w, _command_at(sessions, w.start), running.get(w, ())) for w in own
                ),
                endpoints={
                    t.endpoint: tuple(ws)
                    for t, ws in sorted(per_target.items())
                    if t.service == name and t.endpoint
                },
                floor=floors.get(name),
            )
        )
    hosts = {t: tuple(ws) for t, ws in sorted(per_target.items()) if t.host}
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


def step_spans(plan_json: Mapping[str, Json], steps: Mapping[str, StepRecord]) -> list[StepSpan]:
    """Every step of a stored plan with the journal's times and the plan's service."""
    spans = []
    for step in steps_from_json(plan_json.get("root")):
        rec = steps.get(step.id)
        started, finished = (rec.started, rec.finished) if rec else (None, None)
        spans.append(StepSpan(step.id, str(step.kind), step.service, step.host, started, finished))
    return spans


def plan_services(plan_json: Mapping[str, Json]) -> list[str]:
    """The services of a stored plan, in its order."""
    found = plan_json.get("services")
    return [str(s) for s in found] if isinstance(found, list) else []


def run_downtime(journal: Journal, run_id: str) -> Downtime:
    """The downtime of a journalled run (of its probe sessions so far)."""
    record = journal.run(run_id)
    plan = json.loads(record.plan_json or "{}")
    spans = step_spans(plan, journal.steps(record.id))
    return analyse(journal.probe_sessions(record.id), spans, plan_services(plan))
