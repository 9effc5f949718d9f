"""`stackstep restore RUN SERVICE`: put one service back where the run found it.

Everything comes from the journal. The run's plan says on which hosts the service runs,
which units it stopped and started (in which waves), which package globs it upgraded and
how it verified the service; the facts stored with the run hold the versions installed
before it (when it was planned with discovery); the backup step's data names the dump.
:func:`plan_restore` (pure, here) turns that into a :class:`RestorePlan`, or refuses;
:class:`~stackstep.restore.run.Restorer` carries it out::

    stop units (every host) -> put packages back (every host) -> restore the database
    (the backup's host) -> start units (the run's waves) -> verify (the run's checks)

Its steps have ids ``restore/SERVICE/HOST/...``; they are journalled as events of the
run, not as rows of its plan. Every phase is safe to repeat: a restore that failed
part-way says what state it left each part of the service in (:func:`state_after`) and
is run again once the cause is fixed. A restore that went through makes the service's
steps pending again (a done backup step stays done: the database equals its dump again)
and marks the run ``halted``, so that `stackstep resume` upgrades the service anew.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from stackstep.drivers import packages, services
from stackstep.drivers.database import kind_of_backup
from stackstep.engine.events import Event
from stackstep.engine.journal import RunRecord, StepRecord
from stackstep.errors import InputError, RestoreRefused
from stackstep.model.facts import HostFacts, facts_from_json
from stackstep.model.hostrange import compress
from stackstep.model.inventory import InitSystem, PackageManager
from stackstep.model.params import PackagesParams, UnitsParams, VerifyParams
from stackstep.model.plan import Json, Step, StepKind, steps_from_json
from stackstep.model.states import RunStatus, StepState
from stackstep.planner.context import TIMEOUTS

PHASES = ("stop units", "put packages back", "restore the database", "start units", "verify")
STOP, PACKAGES, DATABASE, START, VERIFY = range(len(PHASES))


@dataclass(frozen=True)
class HostPart:
    """The restore on one host of the service."""

    host: str
    stop: Step
    package_manager: PackageManager
    init: InitSystem  # as the run found it: its units are started and checked that way
    globs: tuple[str, ...] = ()
    before: tuple[tuple[str, str], ...] = ()  # (name, version) before the run, matching globs
    no_downgrade: str = ""  # why the packages stay as they are; "" when they are put back


@dataclass(frozen=True)
class RestorePlan:
    run_id: str
    service: str
    run_status: RunStatus
    backup_host: str
    backup: str  # the dump's path on backup_host
    database: Step  # restore/SERVICE/HOST/restore-db: config, section, key of the DB URL
    hosts: tuple[HostPart, ...]
    starts: tuple[tuple[Step, ...], ...]  # the run's start waves, in order
    verifies: tuple[Step, ...]
    reset: tuple[str, ...]  # the run's steps made pending again once restored

    def init(self, host: str) -> InitSystem:
        """The init system the run found on ``host`` (systemd for the backup's host when
        it runs no part of the service: no unit is checked there)."""
        return next((p.init for p in self.hosts if p.host == host), "systemd")

    @property
    def dump(self) -> str:
        return f"{self.backup_host}:{self.backup}"

    def describe(self) -> list[str]:
        """What the restore will do, for the operator to read before saying yes."""
        kind = "SQLite" if kind_of_backup(self.backup) == "sqlite" else "MySQL/MariaDB"
        checks = dict.fromkeys(s.title.partition(": ")[2] or s.title for s in self.verifies)
        lines = [
            f"Restore {self.service} to where run {self.run_id} found it "
            f"(the run is {self.run_status}):",
            f"  1. stop {_units_text(p.stop for p in self.hosts)} on {_hosts(self.hosts)}",
            "  2. put its packages back to their versions before the run "
            "(those that changed since):",
            *(f"       {hosts}: {text}" for text, hosts in _pins_by_text(self.hosts)),
            f"  3. restore the {self.service} database on {self.backup_host} from "
            f"{self.backup} ({kind}): what it holds now is REPLACED",
            f"  4. start {_units_text(s for wave in self.starts for s in wave)}"
            + (f" in {len(self.starts)} waves" if len(self.starts) > 1 else ""),
            "  5. verify: " + "; ".join(checks),
            f"Then {self.service}'s steps in run {self.run_id} are pending again: "
            f"`stackstep resume {self.run_id}` upgrades it anew.",
        ]
        if self.run_status == RunStatus.RUNNING:
            lines.append(
                "!! the run is journalled as running: if a stackstep still runs it, stop it"
            )
        return lines


def _hosts(parts: Iterable[HostPart]) -> str:
    return ", ".join(compress([p.host for p in parts]))


def _units_text(steps: Iterable[Step]) -> str:
    units = [u for s in steps for u in _units_of(s)]
    return ", ".join(dict.fromkeys(units)) or "(no units)"


def _pins_by_text(parts: Iterable[HostPart]) -> list[tuple[str, str]]:
    """(what happens to the packages, on which hosts): hosts alike share one line."""
    grouped: dict[str, list[HostPart]] = defaultdict(list)
    for part in parts:
        text = ", ".join(f"{n} {v}" for n, v in part.before)
        grouped[f"NOT put back: {part.no_downgrade}" if part.no_downgrade else text].append(part)
    return [(text, _hosts(hosts)) for text, hosts in grouped.items()]


# ---- from the journal to a RestorePlan (pure) -------------------------------------------


def _steps_of(node: Json, service: str) -> Iterator[Step]:
    """The service's steps in a plan's JSON tree, in plan order."""
    return steps_from_json(node, service=service)


def _units_of(step: Step) -> tuple[str, ...]:
    """The units a step of the run names (stop, start, verify)."""
    params = step.params
    return params.units if isinstance(params, UnitsParams | VerifyParams) else ()


def _backup(
    record: RunRecord, records: Mapping[str, StepRecord], mine: list[Step], took: bool
) -> tuple[Step, str]:
    """The service's backup step and the dump's path; else refuse: nothing to restore."""
    service = mine[0].service
    found = [s for s in mine if s.kind == StepKind.BACKUP_DB]
    status = f"`stackstep status {record.id}` shows what the run did"
    if not found:
        why = f"{service} has no database" if took else "it ran with --no-backup"
        raise RestoreRefused(
            f"run {record.id} took no backup of {service}: {why}",
            hint=f"restore its database by hand from a backup of your own; {status}",
        )
    first = _first_backup(records, str(service))
    if first is not None and first.step_id != found[0].id:
        # a run resumed with --replan onto another migration host took a second backup,
        # of the database its first migration had already changed: the first dump is
        # the one from before the run
        return replace(found[0], id=first.step_id, host=first.host), str(first.result.backup)
    rec = records.get(found[0].id)
    path = rec.result.backup if rec is not None and rec.state == StepState.DONE else None
    if not isinstance(path, str):
        raise RestoreRefused(
            f"run {record.id} has no backup of {service}: its step {found[0].id} is "
            f"{rec.state if rec else 'unknown'}",
            hint=f"the run did not reach {service}'s migration (it comes after the backup), "
            f"so its database was not changed; {status}",
        )
    return found[0], path


def _first_backup(records: Mapping[str, StepRecord], service: str) -> StepRecord | None:
    """The service's earliest done backup in the run, whichever step id it had."""
    done = [
        r
        for r in records.values()
        if r.kind == str(StepKind.BACKUP_DB)
        and r.step_id.startswith(f"services/{service}/")
        and r.state == StepState.DONE
        and r.result.backup is not None
    ]
    return min(done, key=lambda r: r.finished or 0.0, default=None)


def _units_step(
    kind: StepKind, sid: str, host: HostFacts, action: str, units: list[str], title: str
) -> Step:
    return Step(
        sid,
        kind,
        title,
        host.name,
        sid.split("/")[1],
        services.unit_action(host.init, action, tuple(units)),
        UnitsParams(tuple(units)),
        timeout=TIMEOUTS[str(kind)],
    )


def _host_facts(record: RunRecord, names: list[str]) -> dict[str, HostFacts]:
    facts = facts_from_json(json.loads(record.facts_json or "{}"))
    found = {name: facts.host(name) for name in names}
    missing = [name for name, host in found.items() if host is None]
    if missing:
        raise InputError(f"run {record.id} has no facts about {', '.join(missing)}")
    return {name: host for name, host in found.items() if host is not None}


def _part(service: str, facts: HostFacts, units: list[str], upgrade: Step | None) -> HostPart:
    sid = f"restore/{service}/{facts.name}/stop-units"
    stop = _units_step(StepKind.STOP_UNITS, sid, facts, "stop", units, f"stop {service}")
    pm = facts.package_manager
    if upgrade is None:
        return HostPart(
            facts.name, stop, pm, facts.init, no_downgrade="the run upgraded all packages at once"
        )
    globs = upgrade.params.packages if isinstance(upgrade.params, PackagesParams) else ()
    if not facts.versions:
        why = "their versions before the run are not known (it ran without discovery)"
        return HostPart(facts.name, stop, pm, facts.init, globs, no_downgrade=why)
    before = tuple(packages.matching(facts.versions, globs))
    if not before:
        why = f"nothing matching {' '.join(globs)} was installed before the run"
        return HostPart(facts.name, stop, pm, facts.init, globs, no_downgrade=why)
    return HostPart(facts.name, stop, pm, facts.init, globs, before)


def _units(steps: list[Step]) -> dict[str, list[str]]:
    """Host -> the units these steps name, in order."""
    out: dict[str, list[str]] = {}
    for step in steps:
        out.setdefault(step.host or "", []).extend(_units_of(step))
    return out


def _refuse_renamed(service: str, stops: list[Step], now: Mapping[str, list[str]]) -> None:
    for host, old in _units(stops).items():
        if set(old) != set(now.get(host, [])):
            raise RestoreRefused(
                f"the run renamed {service}'s units on {host} "
                f"({', '.join(old)} -> {', '.join(now.get(host, []))}): "
                "stackstep cannot put them back",
                hint="restore this service by hand (packages, database, units)",
            )


def _waves(starts: list[Step], facts: Mapping[str, HostFacts]) -> tuple[tuple[Step, ...], ...]:
    """The run's start steps rebuilt as restore steps, wave by wave (``start-units-N``)."""
    waves: dict[str, list[Step]] = {}
    for step in starts:
        service, host, tail = step.service or "", step.host or "", step.id.rsplit("/", 1)[1]
        units = list(_units_of(step))
        sid = f"restore/{service}/{host}/{tail}"
        rebuilt = _units_step(StepKind.START_UNITS, sid, facts[host], "start", units, step.title)
        waves.setdefault(tail, []).append(rebuilt)
    return tuple(tuple(wave) for wave in waves.values())


def _as_restore(step: Step, tail: str = "", title: str = "") -> Step:
    """A step of the run as a restore step: ``services/S/H/T`` -> ``restore/S/H/T``."""
    head, _, own = step.id.replace("services/", "restore/", 1).rpartition("/")
    return Step(
        f"{head}/{tail or own}",
        step.kind,
        title or step.title,
        step.host,
        step.service,
        step.commands,  # a verify step's own checks, as the run's plan shows them
        step.params,
        timeout=step.timeout,
    )


def plan_restore(record: RunRecord, records: Mapping[str, StepRecord], service: str) -> RestorePlan:
    """What restoring ``service`` from run ``record`` takes; refuses (RestoreRefused, exit
    4) when the run has no backup of it, or when it cannot be done (renamed units)."""
    plan = json.loads(record.plan_json or "{}")
    mine = list(_steps_of(plan.get("root"), service))
    if not mine:
        raise InputError(
            f"run {record.id} did not upgrade {service!r}",
            hint="its services: " + ", ".join(map(str, plan.get("services", []))),
        )
    took = plan.get("options", {}).get("backup", True) is not False
    backup, path = _backup(record, records, mine, took)
    starts = [s for s in mine if s.kind == StepKind.START_UNITS]
    now = _units(starts)
    _refuse_renamed(service, [s for s in mine if s.kind == StepKind.STOP_UNITS], now)
    facts = _host_facts(record, list(now))
    upgrades = {s.host: s for s in mine if s.kind == StepKind.UPGRADE_PACKAGES}
    return RestorePlan(
        record.id,
        service,
        record.status,
        backup.host or "",
        path,
        _as_restore(backup, "restore-db", f"restore the {service} database"),
        tuple(_part(service, facts[h], units, upgrades.get(h)) for h, units in now.items()),
        _waves(starts, facts),
        tuple(_as_restore(s) for s in mine if s.kind == StepKind.VERIFY),
        tuple(s.id for s in mine if s.kind != StepKind.BACKUP_DB),
    )


def state_after(plan: RestorePlan, phase: int, failed: list[str]) -> list[str]:
    """Where each part of the service stands when ``phase`` failed on the ``failed``
    hosts, the phases before it having gone through (and ``phase`` on the others)."""
    where, hosts = ", ".join(failed) or "some hosts (interrupted)", _hosts(plan.hosts)
    others = len(plan.hosts) > len(set(failed)) or not failed
    units = {
        STOP: f"units: stopping failed on {where}" + ("; stopped elsewhere" if others else ""),
        START: f"units: starting failed on {where}; some may be running",
        VERIFY: f"units: started on {hosts}, but {plan.service} failed its checks",
    }.get(phase, f"units: STOPPED on {hosts}")
    kept = [p.host for p in plan.hosts if p.no_downgrade]
    package = {
        STOP: "packages: as the run left them (the new release)",
        PACKAGES: f"packages: putting back failed on {where}"
        + ("; put back elsewhere" if others else ""),
    }.get(phase, "packages: put back" + (f", except on {', '.join(kept)}" if kept else ""))
    untouched = f"database: as the run left it; the dump is {plan.dump}"
    db = {
        STOP: untouched,
        PACKAGES: untouched,
        DATABASE: f"database: restore FAILED, it may be half done; the dump is {plan.dump}",
    }.get(phase, f"database: restored from {plan.dump}")
    return [units, package, db]


@dataclass(frozen=True)
class RestoreEvent:
    """What a ``restore-*`` event carries (restore/run.py writes it): the service; for a
    failed restore, the phase and first failure, the state it left and the command that
    runs it again."""

    service: str | None
    phase: str | None = None
    failure: str | None = None
    state: tuple[str, ...] = ()
    again: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> RestoreEvent:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        state = data.get("state")
        return cls(
            text("service"),
            text("phase"),
            text("failure"),
            tuple(str(s) for s in state) if isinstance(state, list) else (),
            text("again") or "",
        )


def history(events: list[Event]) -> list[dict[str, Json]]:
    """The restores of a run, oldest first, for `stackstep status`: time, service,
    restored (or failed), message; a failed one also the state it left the service in
    and the command that runs it again."""
    out: list[dict[str, Json]] = []
    for event in events:
        done = RestoreEvent.from_json(event.data)
        entry: dict[str, Json] = {"time": event.time, "service": done.service}
        if event.kind == "restore-finished":
            out.append({**entry, "restored": True, "message": event.message})
        elif event.kind == "restore-failed":
            message = f"restore of {done.service} FAILED at '{done.phase}': {done.failure}"
            state: list[Json] = list(done.state)
            out.append(
                {
                    **entry,
                    "restored": False,
                    "message": message,
                    "state": state,
                    "again": done.again,
                }
            )
    return out
