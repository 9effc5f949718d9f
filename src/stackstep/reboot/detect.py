"""Reboots after an upgrade: which hosts need one, a scheduled reboot, a rolling one.

* Which hosts: the ``reboot-check`` step of a run (its journalled data ``running``,
  ``newest``, ``reboot_needed``; hosts rebooted by ``stackstep reboot`` since are left
  out), or that same step performed now (:func:`detect`): the check is
  ``actions.perform`` on the planner's step, never a copy of it.
* :func:`schedule`: ``shutdown -r HH:MM`` on each host (``shutdown -c`` cancels it).
* :class:`RollingReboot` (reboot/rolling.py): health-gated, a few hosts at a time.

Everything is recorded as events in the journal under the run's id, with step ids
``reboot/HOST/PHASE``; each host's outcome is a ``message`` event whose ``data.reboot``
is its state (``rebooted``, ``scheduled``, ``failed``, ``skipped``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from stackstep.drivers import boot, kernels
from stackstep.engine.actions import ActionContext, perform
from stackstep.engine.events import Event, EventBus, EventKind, command_data
from stackstep.engine.health import init_of
from stackstep.engine.journal import Journal, StepRecord
from stackstep.errors import StepFailed, TransportError
from stackstep.model.facts import Facts, HostFacts
from stackstep.model.inventory import Host, InitSystem, Inventory
from stackstep.model.params import VerifyParams
from stackstep.model.plan import Json, Plan, Step, StepKind
from stackstep.model.results import StepResult
from stackstep.model.states import StepState
from stackstep.transport.base import Result
from stackstep.transport.factory import TransportPool

State = Literal["rebooted", "scheduled", "failed", "skipped"]
COMPUTE = "nova:compute"
API = "nova:api"


@dataclass(frozen=True)
class Need:
    """Does ``host`` need a reboot (None: not known), and why."""

    host: str
    needed: bool | None
    running: str = ""
    newest: str = ""
    why: str = ""

    def to_json(self) -> dict[str, Json]:
        found: dict[str, Json] = asdict(self)
        return found


def need_of(host: str, data: Mapping[str, Json] | StepResult) -> Need:
    """A reboot-check's result (``running``, ``newest``, ``reboot_needed``) as a Need."""
    result = data if isinstance(data, StepResult) else StepResult.from_json(data)
    running, newest, needed = result.running, result.newest, result.reboot_needed
    if needed and running and newest and kernels.reboot_needed(running, [newest]):
        why = f"running {running}, newest installed {newest}"
    elif needed:
        why = (
            "the system asks for it (needs-restarting -r or /run/reboot-required); "
            f"running {running or '?'}"
        )
    else:
        why = f"running {running or '?'}, the newest installed"
    return Need(host, needed, running, newest, why)


def reboot_state(event: Event) -> str | None:
    """The host's reboot state a :meth:`Recorder.outcome` event carries, else None."""
    payload = event.data if event.kind == "message" else {}
    state = payload.get("reboot")
    return state if isinstance(state, str) else None


def needs_from_journal(
    run_id: str, steps: Mapping[str, StepRecord], events: Sequence[Event]
) -> list[Need]:
    """What the run's reboot-check steps found, minus hosts rebooted since by stackstep."""
    rebooted = {e.host: e.time for e in events if e.host and reboot_state(e) == "rebooted"}
    out = []
    for rec in steps.values():
        if rec.kind != str(StepKind.REBOOT_CHECK) or rec.host is None:
            continue
        if rec.state != StepState.DONE:
            why = f"not checked: its reboot-check step is {rec.state} in run {run_id}"
            out.append(Need(rec.host, None, why=why))
            continue
        need = need_of(rec.host, rec.result)
        since = rebooted.get(rec.host)
        if need.needed and since is not None and since > (rec.finished or 0.0):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
            need = replace(need, needed=False, why=f"rebooted by stackstep at {stamp}")
        out.append(need)
    return out


@dataclass(frozen=True)
class HostOutcome:
    host: str
    state: State
    message: str
    step: str | None = None
    hint: str | None = None
    data: dict[str, Json] = field(default_factory=dict)

    def to_json(self) -> dict[str, Json]:
        found: dict[str, Json] = asdict(self)
        data = found.pop("data")
        return {**found, **(data if isinstance(data, dict) else {})}


class Recorder:
    """A reboot's events, into the journal (under ``run_id``) and onto the bus."""

    def __init__(self, journal: Journal, bus: EventBus, run_id: str) -> None:
        self.journal, self.bus, self.run_id = journal, bus, run_id

    def emit(
        self,
        kind: EventKind,
        host: str | None = None,
        step_id: str | None = None,
        message: str = "",
        data: Mapping[str, Json] | None = None,
    ) -> None:
        event = Event(kind, self.run_id, step_id, host, message, dict(data or {}))
        self.journal.publish(event, self.bus)

    def command(self, step_id: str, result: Result) -> None:
        self.emit("command", result.host, step_id, result.command, command_data(result))

    def outcome(self, outcome: HostOutcome) -> None:
        data: dict[str, Json] = {"reboot": outcome.state, "step": outcome.step, **outcome.data}
        sid = f"reboot/{outcome.host}"
        self.emit("message", outcome.host, sid, f"{outcome.state}: {outcome.message}", data)

    def context(
        self, host: Host, init: InitSystem, step_id: str, hint: str, probe_timeout: float
    ) -> ActionContext:
        """For ``actions.perform``: its commands are recorded under ``step_id``."""
        return ActionContext(
            self.run_id,
            host,
            hint,
            init,
            on_command=lambda step, result: self.command(step_id, result),
            probe_timeout=probe_timeout,
        )


def check_steps(plan: Plan) -> list[Step]:
    """The plan's reboot-check step of every host."""
    return [s for s in plan.steps() if s.kind == StepKind.REBOOT_CHECK]


async def detect(
    checks: Sequence[Step],
    hosts: Mapping[str, Host],
    pool: TransportPool,
    rec: Recorder,
    limit: int = 20,
) -> list[Need]:
    """Perform the reboot-check steps now, ``limit`` hosts at once; one Need per step."""
    gate = asyncio.Semaphore(limit)

    async def one(step: Step) -> Need:
        host = hosts[step.host or ""]
        async with gate:
            try:
                transport = await pool.get(host)
                # a reboot check asks no unit: the init system does not matter here
                ctx = rec.context(host, init_of(host, None), step.id, "", 30.0)
                outcome = await perform(step, transport, ctx)
            except (TransportError, StepFailed) as exc:
                rec.emit("step-failed", host.name, step.id, exc.message)
                return Need(host.name, None, why=f"could not check: {exc.message}")
        rec.emit("step-finished", host.name, step.id, outcome.message, outcome.data)
        return need_of(host.name, outcome.data)

    return list(await asyncio.gather(*(one(s) for s in checks)))


@dataclass(frozen=True)
class Target:
    """A host to reboot, with what proves it healthy afterwards."""

    host: Host
    need: Need
    init: InitSystem = "systemd"
    check: Step | None = None  # its reboot-check step, run again once it is back
    verify: tuple[Step, ...] = ()  # the plan's verify steps on it: units, API probe, smoke
    compute: bool = False  # runs nova-compute

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def units(self) -> tuple[str, ...]:
        found = (u for s in self.verify for u in _verify_params(s).units)
        return tuple(dict.fromkeys(found))

    @property
    def serves_api(self) -> bool:
        return any(_verify_params(s).probe is not None for s in self.verify)


def build_targets(
    plan: Plan, facts: Facts, inventory: Inventory, needs: Sequence[Need]
) -> list[Target]:
    """The hosts that need a reboot, in inventory order, with their checks from the plan.

    When discovery found a host's units, a verify step keeps only those: a unit that is
    not on the host (a renamed one, of another release) cannot come back by a reboot.
    """
    wanted = {n.host: n for n in needs if n.needed}
    out = []
    for host in inventory.hosts:
        need = wanted.get(host.name)
        if need is None:
            continue
        found = facts.host(host.name)
        mine = [s for s in plan.steps() if s.host == host.name]
        out.append(
            Target(
                host,
                need,
                init_of(host, found),
                next((s for s in mine if s.kind == StepKind.REBOOT_CHECK), None),
                tuple(_present(s, found) for s in mine if s.kind == StepKind.VERIFY),
                found is not None and COMPUTE in found.components,
            )
        )
    return out


def api_hosts(facts: Facts, inventory: Inventory) -> list[Host]:
    """Hosts running nova-api, in inventory order: where nova-compute is switched."""
    names = {h.name for h in facts.hosts if API in h.components}
    return [h for h in inventory.hosts if h.name in names]


def _present(step: Step, found: HostFacts | None) -> Step:
    if found is None or not found.units:
        return step
    params = _verify_params(step)
    units = tuple(u for u in params.units if u in found.units)
    return replace(step, params=replace(params, units=units))


def _verify_params(step: Step) -> VerifyParams:
    return step.params if isinstance(step.params, VerifyParams) else VerifyParams(())


async def schedule(
    targets: Sequence[Target], at: str, pool: TransportPool, rec: Recorder, limit: int = 20
) -> list[HostOutcome]:
    """``shutdown -r AT "stackstep: new kernel"`` on every target, ``limit`` at once."""
    command = boot.schedule_command(at)
    cancel = boot.cancel_command().render()
    gate = asyncio.Semaphore(limit)

    async def one(t: Target) -> HostOutcome:
        sid = f"reboot/{t.name}/schedule"
        async with gate:
            try:
                result = await (await pool.get(t.host)).run(command, timeout=60)
            except TransportError as exc:
                outcome = HostOutcome(t.name, "failed", exc.message, sid, exc.hint)
            else:
                rec.command(sid, result)
                outcome = (
                    HostOutcome(t.name, "scheduled", f"reboot at {at} (cancel: `{cancel}`)", sid)
                    if result.ok
                    else HostOutcome(
                        t.name,
                        "failed",
                        f"`{result.command}` exited {result.exit_status}: {result.tail(3)}",
                        sid,
                        f"run it on {t.name} by hand to see why",
                    )
                )
        kind: EventKind = "step-finished" if outcome.state == "scheduled" else "step-failed"
        rec.emit(kind, t.name, sid, outcome.message)
        rec.outcome(outcome)
        return outcome

    return list(await asyncio.gather(*(one(t) for t in targets)))
