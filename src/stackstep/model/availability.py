"""Measured availability: probe transitions, the outage windows they make, and the floor.

Pure values and functions over them (standard library only). The prober
(``engine/prober.py``) records a :class:`Transition` each time a target's probe changes
state (and its first sample); everything here is derived from those and from the
journal's step times. Times are wall-clock seconds (``time.time()``), the journal's clock.

Definitions (what the reports' figures mean):

- A **target** is one service's probe on one host, or one service's load-balanced
  endpoint. ``ProbeTarget(service)`` with neither host nor endpoint is the service as a
  whole, derived from its hosts (never probed itself).
- An **outage window** of a target runs from its first failed probe to the first good
  probe after it. When the target is still down at ``run_end`` the window ends there and
  is ``open``. Its ``last_up`` is the last good probe before it (the failed probe's
  ``previous``, else the last up sample read): the outage began between the two. When the
  target was already down at its first probe, ``last_up`` is ``None``: it went down
  before the prober first looked, so the window's start is a bound, not the moment it
  went down. Transitions after ``run_end`` are ignored.
- A **service is down** (its service-level windows, :func:`service_windows`) while every
  host it is probed on is down at the same time: what a user behind a load balancer over
  those hosts would see. One host down while another answers is visible in that host's
  own windows, not in the service's. A declared endpoint is measured directly and keeps
  its own windows (``ProbeTarget(service, endpoint=...)``); it is never merged with the
  hosts'.
- The steps **running when a window began** (:func:`steps_running_at`) are those whose
  run overlaps the moments the outage may have begun: from the last good probe before the
  window (or the window's start, when there is none) to the window's start.
- The **floor** of a service (:func:`service_floor`) is the time its own work takes on
  its critical path: the end of its last start, when its ``upgrade-packages``,
  ``migrate-db`` and ``start-units`` steps (their measured durations, nothing else) run as
  early as their true dependencies allow: a host's start after that host's package
  upgrade; every start after the migration; the migration after the package upgrade on
  its own host; start wave *n* (``start-units-n``) after every host's wave *n-1*. Stops,
  hooks, checks, backups, verify steps and the time between steps are not in it: the floor
  is the least outage the service's own work allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stackstep.model.plan import StepKind


@dataclass(frozen=True, order=True)
class ProbeTarget:
    """What a probe watches: ``service`` on ``host``, or ``service`` at ``endpoint``."""

    service: str
    host: str = ""
    endpoint: str = ""

    def __post_init__(self) -> None:
        if self.host and self.endpoint:
            raise ValueError(f"probe target of {self.service}: a host or an endpoint, not both")

    @property
    def label(self) -> str:
        if self.host:
            return f"{self.service}@{self.host}"
        if self.endpoint:
            return f"{self.service} via {self.endpoint}"
        return self.service


@dataclass(frozen=True)
class Transition:
    """A target's probe at ``at`` (when the request was sent): up or down, and why.
    ``previous``: when the sample before it (in the other state) was sent, which bounds
    the moment the state changed; None for the target's first sample."""

    target: ProbeTarget
    at: float
    up: bool
    detail: str = ""
    previous: float | None = None


@dataclass(frozen=True)
class ProbeSession:
    """One command's probing of a run (the journal's ``probe_sessions``): from
    ``started`` to ``ended`` (None when its process was killed), every ``interval`` s."""

    command: str
    started: float
    ended: float | None
    interval: float
    transitions: tuple[Transition, ...] = ()

    @property
    def end(self) -> float:
        """Where its windows end: ``ended``, else its last transition or its start."""
        if self.ended is not None:
            return self.ended
        return max([self.started, *(t.at for t in self.transitions)])


@dataclass(frozen=True)
class OutageWindow:
    """A target down from ``start`` (its first failed probe) to ``end`` (the first good
    one after it, or the run's end when ``open``)."""

    target: ProbeTarget
    start: float
    end: float
    open: bool = False
    last_up: float | None = None  # the last good probe before it; None: down at first probe
    detail: str = ""  # the first failed probe's

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class StepSpan:
    """A step as the journal timed it: ``started``/``finished`` are None when it did not
    start or did not finish (an interrupted run)."""

    step_id: str
    kind: str
    service: str | None = None
    host: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


# -- outage windows -----------------------------------------------------------------


@dataclass
class _Track:
    """One target's state while its transitions are read in time order."""

    target: ProbeTarget
    windows: list[OutageWindow] = field(default_factory=list)
    last_up: float | None = None
    down: Transition | None = None  # the first failed probe of the window now open

    def read(self, t: Transition) -> None:
        if not t.up:
            if self.down is None:
                self.down = t
                self.last_up = t.previous if t.previous is not None else self.last_up
            return
        if self.down is not None:
            self.windows.append(self._window(t.at, is_open=False))
            self.down = None
        self.last_up = t.at

    def close(self, run_end: float) -> list[OutageWindow]:
        if self.down is not None:
            self.windows.append(self._window(run_end, is_open=True))
            self.down = None
        return self.windows

    def _window(self, end: float, *, is_open: bool) -> OutageWindow:
        assert self.down is not None
        down = self.down
        return OutageWindow(self.target, down.at, end, is_open, self.last_up, down.detail)


def outage_windows(
    transitions: Iterable[Transition], run_end: float
) -> dict[ProbeTarget, list[OutageWindow]]:
    """Each target's outage windows, in time order; a target probed and never down maps
    to an empty list. Repeated samples of one state (not only transitions) read the same."""
    tracks: dict[ProbeTarget, _Track] = {}
    for t in sorted(transitions, key=lambda t: t.at):
        if t.at <= run_end:
            tracks.setdefault(t.target, _Track(t.target)).read(t)
    return {target: tracks[target].close(run_end) for target in sorted(tracks)}


def service_windows(
    windows: Mapping[ProbeTarget, Sequence[OutageWindow]],
) -> dict[str, list[OutageWindow]]:
    """Each service's own windows (target ``ProbeTarget(service)``): down while every
    host it is probed on is down at once. Endpoints are left out (they keep their own)."""
    hosts: dict[str, list[ProbeTarget]] = {}
    for target in windows:
        if target.host:
            hosts.setdefault(target.service, []).append(target)
    return {
        service: _all_down(ProbeTarget(service), [windows[t] for t in targets])
        for service, targets in sorted(hosts.items())
    }


def _all_down(target: ProbeTarget, per_host: list[Sequence[OutageWindow]]) -> list[OutageWindow]:
    """Where every host's windows overlap: a sweep over their edges (an end before a start
    at the same moment: a window ending when another begins does not overlap it)."""
    edges = sorted(
        [(w.start, 1, w) for hw in per_host for w in hw if w.end > w.start]
        + [(w.end, -1, w) for hw in per_host for w in hw if w.end > w.start],
        key=lambda edge: (edge[0], edge[1]),
    )
    found: list[OutageWindow] = []
    down, began = 0, None
    for at, delta, window in edges:
        down += delta
        if delta == 1 and down == len(per_host):
            began = window  # the host whose failure took the last one down
        elif delta == -1 and began is not None:
            found.append(
                OutageWindow(target, began.start, at, window.open, began.last_up, began.detail)
            )
            began = None
    return found


def steps_running_at(
    windows: Iterable[OutageWindow], steps: Iterable[StepSpan]
) -> dict[OutageWindow, tuple[str, ...]]:
    """For each window, the ids of the steps running when it may have begun (from its
    ``last_up``, or its start, to its start), in the order they started."""
    timed = sorted((s for s in steps if s.started is not None), key=lambda s: s.started or 0.0)
    return {w: tuple(s.step_id for s in timed if _overlaps(s, w)) for w in windows}


def _overlaps(step: StepSpan, window: OutageWindow) -> bool:
    since = window.start if window.last_up is None else window.last_up
    began = step.started is not None and step.started <= window.start
    return began and (step.finished is None or step.finished >= since)


# -- the floor ----------------------------------------------------------------------

_FLOOR_KINDS = frozenset({StepKind.UPGRADE_PACKAGES, StepKind.MIGRATE_DB, StepKind.START_UNITS})


def service_floor(steps: Iterable[StepSpan]) -> dict[str, float]:
    """Each service's floor (module docstring), for the services with at least one timed
    ``upgrade-packages``, ``migrate-db`` or ``start-units`` step; a step that did not
    both start and finish counts as taking no time."""
    mine: dict[str, list[StepSpan]] = {}
    for s in steps:
        if s.service and s.kind in _FLOOR_KINDS and s.duration is not None:
            mine.setdefault(s.service, []).append(s)
    return {service: _critical_path(spans) for service, spans in sorted(mine.items())}


def _critical_path(spans: list[StepSpan]) -> float:
    upgraded: dict[str | None, float] = {}
    for s in spans:
        if s.kind == StepKind.UPGRADE_PACKAGES:
            upgraded[s.host] = max(upgraded.get(s.host, 0.0), s.duration or 0.0)
    migrations = [s for s in spans if s.kind == StepKind.MIGRATE_DB]
    migrated = max(
        (upgraded.get(s.host, 0.0) + (s.duration or 0.0) for s in migrations), default=0.0
    )
    end, previous = max([migrated, *upgraded.values()]), 0.0  # previous: the last wave's end
    for wave in _waves(spans):
        previous = max(
            max(previous, migrated, upgraded.get(s.host, 0.0)) + (s.duration or 0.0) for s in wave
        )
        end = max(end, previous)
    return end


def _waves(spans: list[StepSpan]) -> list[list[StepSpan]]:
    """The start steps, wave by wave."""
    waves: dict[int, list[StepSpan]] = {}
    for s in spans:
        if s.kind == StepKind.START_UNITS:
            waves.setdefault(start_wave(s.step_id), []).append(s)
    return [waves[n] for n in sorted(waves)]


def start_wave(step_id: str) -> int:
    """A start step's wave: ``.../start-units-2`` is wave 2, ``.../start-units`` wave 1."""
    suffix = step_id.rsplit("/", 1)[-1].removeprefix(str(StepKind.START_UNITS))
    return int(suffix[1:]) if suffix[:1] == "-" and suffix[1:].isdigit() else 1
