"""Carry a :class:`~stackstep.restore.plan.RestorePlan` out, phase by phase.

Each phase runs its steps on every host at once (at most ``limit``), lets them all
finish, and stops the restore when one failed: :class:`~stackstep.errors.RestoreFailed`
names each failure (host, step, output) and the state each part of the service is in.
Stop, start and verify are the engine's own actions (stackstep.engine.actions); the
package downgrade reads what is installed now and puts back only what changed; the
database goes back through stackstep.engine.backup. Every step and command is an event
of the run: in its journal and its log (``STATE/runs/RUN/run.log``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

from stackstep.drivers import packages
from stackstep.engine.actions import ActionContext, perform
from stackstep.engine.backup import restore_database
from stackstep.engine.events import EventBus, EventKind, command_data, step_event
from stackstep.engine.journal import Journal
from stackstep.errors import RestoreFailed, StepFailed, TransportError
from stackstep.model.command import Command
from stackstep.model.inventory import Host
from stackstep.model.params import PackagesParams
from stackstep.model.plan import Json, Step, StepKind
from stackstep.model.states import RunStatus
from stackstep.planner.context import TIMEOUTS
from stackstep.restore.plan import (
    DATABASE,
    PACKAGES,
    PHASES,
    START,
    STOP,
    VERIFY,
    HostPart,
    RestorePlan,
    state_after,
)
from stackstep.transport.base import Result, Transport
from stackstep.transport.factory import TransportPool

Action = Callable[[Step, Transport, ActionContext], Awaitable[str]]


class _PhaseFailed(Exception):
    def __init__(self, failures: list[StepFailed]) -> None:
        super().__init__(f"{len(failures)} failure(s)")
        self.failures = failures


NO_OLD_PACKAGES = "are those versions still in an enabled repository (the old release's)?"


async def _run(
    step: Step,
    transport: Transport,
    ctx: ActionContext,
    command: Command,
    ok: tuple[int, ...],
    why: str = "",
) -> Result:
    """Run ``command``; an exit status not in ``ok`` fails the step (``why``: a guess)."""
    result = await transport.run(command, timeout=step.timeout)
    ctx.on_command(step, result)
    if result.exit_status not in ok:
        raise StepFailed(
            step.id,
            step.host,
            f"`{result.command}` exited with status {result.exit_status}"
            + (f": {why}" if why else ""),
            exit_status=result.exit_status,
            output_tail=result.tail(),
        )
    return result


async def _engine(step: Step, transport: Transport, ctx: ActionContext) -> str:
    """Stop, start, verify: the engine's own action for the step's kind."""
    return (await perform(step, transport, ctx)).message or "done"


@dataclass
class Restorer:
    """One restore of one service of a run; ``execute`` once."""

    plan: RestorePlan
    journal: Journal
    bus: EventBus
    hosts: Mapping[str, Host]
    limit: int = 20
    again: str = ""  # the command that runs this restore again, for hints
    downgraded: dict[str, list[str]] = field(default_factory=dict)
    phase: int = STOP  # the phase under way
    error: RestoreFailed | None = None  # why it stopped (also when interrupted)

    async def execute(self, pool: TransportPool) -> list[str]:
        """Restore the service; lines saying what was done. Raises RestoreFailed; when
        cancelled (Ctrl-C), ``error`` says where it stopped."""
        plan = self.plan
        self._emit(
            "restore-started",
            message=f"restoring {plan.service} from {plan.dump}",
            data={"service": plan.service, "host": plan.backup_host, "backup": plan.backup},
        )
        try:
            for phase, items in self._phases():
                self.phase = phase
                await self._phase(items, pool)
        except _PhaseFailed as failed:
            raise self._failed(failed.failures) from None
        except asyncio.CancelledError:
            self._failed([])
            raise
        return self._finished()

    def _phases(self) -> Iterator[tuple[int, list[tuple[Step, Action]]]]:
        plan = self.plan
        yield STOP, [(p.stop, _engine) for p in plan.hosts]
        known = [p for p in plan.hosts if not p.no_downgrade]
        yield PACKAGES, [(self._downgrade_step(p), self._downgrade(p)) for p in known]
        yield DATABASE, [(plan.database, self._restore_db)]
        for wave in plan.starts:
            yield START, [(s, _engine) for s in wave]
        yield VERIFY, [(s, _engine) for s in plan.verifies]

    async def _phase(self, items: list[tuple[Step, Action]], pool: TransportPool) -> None:
        gate = asyncio.Semaphore(max(1, self.limit))

        async def one(step: Step, action: Action) -> None:
            async with gate:
                await self._step(step, action, pool)

        results = await asyncio.gather(*(one(s, a) for s, a in items), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, StepFailed):
                raise result
        failures = [r for r in results if isinstance(r, StepFailed)]
        if failures:
            raise _PhaseFailed(failures)

    async def _step(self, step: Step, action: Action, pool: TransportPool) -> None:
        host = self.hosts[step.host or ""]
        init = host.init or self.plan.init(host.name)  # the inventory's init: overrides
        ctx = ActionContext(self.plan.run_id, host, self.again, init, on_command=self._on_command)
        self._emit("step-started", step, step.title)
        started = time.monotonic()
        try:
            message = await action(step, await pool.get(host), ctx)
        except TransportError as exc:
            failure = StepFailed(step.id, step.host, exc.message, hint=exc.hint)
        except StepFailed as exc:
            failure = exc
        else:
            seconds = round(time.monotonic() - started, 3)
            self._emit("step-finished", step, message, {"seconds": seconds})
            return
        tail: dict[str, Json] = {
            "exit_status": failure.exit_status,
            "output_tail": failure.output_tail,
        }
        self._emit("step-failed", step, failure.message, tail)
        raise failure

    def _downgrade_step(self, part: HostPart) -> Step:
        return Step(
            f"restore/{self.plan.service}/{part.host}/downgrade-packages",
            StepKind.UPGRADE_PACKAGES,
            f"put {self.plan.service} packages back",
            part.host,
            self.plan.service,
            params=PackagesParams(part.globs),
            timeout=TIMEOUTS["upgrade-packages"],
        )

    def _downgrade(self, part: HostPart) -> Action:
        pm = part.package_manager

        async def action(step: Step, transport: Transport, ctx: ActionContext) -> str:
            query = packages.installed_command(pm, part.globs)
            found = await _run(step, transport, ctx, query, (0, 1) if pm == "apt" else (0,))
            now = packages.parse_installed(pm, found.stdout)
            pins = packages.changed_since(dict(part.before), now, part.globs)
            for command in packages.downgrade(pm, pins):
                await _run(step, transport, ctx, command, (0,), NO_OLD_PACKAGES)
            self.downgraded[part.host] = [f"{n} {v}" for n, v in pins]
            if not pins:
                return "packages already at their versions before the run"
            return f"put back {len(pins)} package(s): " + ", ".join(self.downgraded[part.host])

        return action

    async def _restore_db(self, step: Step, transport: Transport, ctx: ActionContext) -> str:
        return await restore_database(step, transport, self.plan.backup, ctx.on_command)

    def _failed(self, failures: list[StepFailed]) -> RestoreFailed:
        plan, phase = self.plan, self.phase
        state = state_after(plan, phase, [f.host or "?" for f in failures])
        error = RestoreFailed(
            f"restore of {plan.service} (run {plan.run_id}) at '{PHASES[phase]}'",
            failures,
            state,
            hint=f"fix the cause, then run `{self.again}` again: each part is safe to repeat",
        )
        self._emit(
            "restore-failed",
            message=error.message,
            data={
                "service": plan.service,
                "phase": PHASES[phase],
                "failure": failures[0].message if failures else "interrupted",
                "again": self.again,
                "state": list(state),
            },
        )
        self.journal.set_status(plan.run_id, RunStatus.FAILED, error.message)
        self.error = error
        return error

    def _finished(self) -> list[str]:
        plan = self.plan
        self.journal.reset_steps(plan.run_id, list(plan.reset))
        note = (
            f"{plan.service} was restored by `stackstep restore`; "
            f"`stackstep resume {plan.run_id}` upgrades it anew"
        )
        self.journal.set_status(plan.run_id, RunStatus.HALTED, note)
        put_back: dict[str, Json] = {h: list(p) for h, p in self.downgraded.items()}
        self._emit(
            "restore-finished",
            message=f"{plan.service} restored from {plan.dump}",
            data={"service": plan.service, "backup": plan.backup, "downgraded": put_back},
        )
        lines = [f"{plan.service} restored from {plan.dump}, started and verified"]
        for host, pins in self.downgraded.items():
            lines.append(f"  {host}: packages put back: {', '.join(pins) or 'none had changed'}")
        for part in plan.hosts:
            if part.no_downgrade:
                lines.append(f"  {part.host}: packages NOT put back: {part.no_downgrade}")
        return [*lines, f"run {plan.run_id} is halted: {note}"]

    def _emit(
        self,
        kind: EventKind,
        step: Step | None = None,
        message: str = "",
        data: dict[str, Json] | None = None,
    ) -> None:
        self.journal.publish(step_event(kind, self.plan.run_id, step, message, data), self.bus)

    def _on_command(self, step: Step, result: Result) -> None:
        self._emit("command", step, result.command, command_data(result))
