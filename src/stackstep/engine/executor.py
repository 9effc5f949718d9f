"""Walk the plan tree: sequential and parallel groups, failure policy, halts, resume.

* A sequential group runs its children in order. When one halts the run, the rest of a
  *service* group (``group.service`` set, or the all-at-once body) still runs its
  ``restore`` steps (start units) so that no service stays down for nothing; then the
  halt goes on up.
* A parallel group runs at most ``limit`` children at once, lets every sibling finish,
  then reports all failures together. With ``max_fail_percent`` > 0 a group of host
  steps may lose up to that share of its hosts and go on; those failures are reported
  at the end (exit 1).
* Steps already done in the journal are skipped; a step journalled as running (the
  process died) is probed first and only repeated when its effect is not there.
* ``request_stop()`` (first Ctrl-C): no new step starts; running ones finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn, cast

from stackstep.engine.actions import ActionContext, Outcome, perform, probe
from stackstep.engine.events import EventBus, EventKind, command_data, step_event
from stackstep.engine.health import inits
from stackstep.engine.journal import Journal, StepRecord, left_down
from stackstep.errors import StepFailed, TransportError
from stackstep.model.facts import Facts
from stackstep.model.inventory import Host
from stackstep.model.params import RestartParams
from stackstep.model.plan import Group, Json, Node, Plan, Step, StepKind
from stackstep.model.states import FINISHED, RunStatus, StepState
from stackstep.transport.base import Result, Transport
from stackstep.transport.factory import TransportPool


class Halt(Exception):
    def __init__(self, failures: list[StepFailed], interrupted: bool = False) -> None:
        super().__init__(f"{len(failures)} failure(s)")
        self.failures = failures
        self.interrupted = interrupted


@dataclass(frozen=True)
class Policy:
    max_fail_percent: float = 0.0
    gate_timeout: float = 120.0  # how long a health gate (probe, smoke) may take to pass


@dataclass
class RunResult:
    status: RunStatus  # done | failed | interrupted
    failures: list[StepFailed] = field(default_factory=list)
    tolerated: list[StepFailed] = field(default_factory=list)
    left_down: dict[str, list[str]] = field(default_factory=dict)


class Executor:
    def __init__(
        self,
        plan: Plan,
        run_id: str,
        journal: Journal,
        bus: EventBus,
        pool: TransportPool,
        hosts: Mapping[str, Host],
        policy: Policy,
        resume_hint: str,
        facts: Facts | None = None,
    ) -> None:
        """``facts``: what the plan was built from; each host's units are checked with the
        init system found there (the inventory's ``init:`` when set, else systemd when
        no facts are given)."""
        self.plan, self.run_id, self.journal, self.bus = plan, run_id, journal, bus
        self.pool, self.hosts, self.policy, self.resume_hint = pool, hosts, policy, resume_hint
        self.states: dict[str, StepRecord] = journal.steps(run_id)
        # units are checked as the plan's commands run them
        self.inits = inits(hosts.values(), facts or Facts(()))
        self.stopping = False
        self.tolerated: list[StepFailed] = []
        # hosts whose restarts decide from their processes: their full upgrade records
        # file digests first (engine/actions.py)
        self.restarts_read = {
            s.host
            for s in plan.steps()
            if s.kind == StepKind.RESTART_UNITS
            and isinstance(s.params, RestartParams)
            and s.params.detect_stale
        }

    def request_stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self._emit("stopping", message="stopping: running steps finish, no new step starts")

    def _emit(
        self,
        kind: EventKind,
        step: Step | None = None,
        message: str = "",
        data: dict[str, Json] | None = None,
    ) -> None:
        self.journal.publish(step_event(kind, self.run_id, step, message, data), self.bus)

    async def execute(self) -> RunResult:
        self.journal.set_status(self.run_id, RunStatus.RUNNING)
        self._emit("run-started", message=f"plan {self.plan.hash[:12]}")
        try:
            await self._group(self.plan.root, restore_only=False)
        except Halt as halt:
            stopped = halt.interrupted and not halt.failures
            status = RunStatus.INTERRUPTED if stopped else RunStatus.FAILED
            return self._finish(RunResult(status, halt.failures, self.tolerated))
        except asyncio.CancelledError:
            self._finish(RunResult(RunStatus.INTERRUPTED, [], self.tolerated))
            raise
        status = RunStatus.FAILED if self.tolerated else RunStatus.DONE
        return self._finish(RunResult(status, [], self.tolerated))

    def _finish(self, result: RunResult) -> RunResult:
        self.states = self.journal.steps(self.run_id)
        result.left_down = left_down(self.states)
        failures = result.failures or result.tolerated
        message = failures[0].render() if failures else ""
        self.journal.set_status(self.run_id, result.status, message)
        self._emit(
            "run-finished",
            message=result.status,
            data={"left_down": {k: list(v) for k, v in result.left_down.items()}},
        )
        return result

    async def _node(self, node: Node, restore_only: bool) -> None:
        if isinstance(node, Step):
            await self._step(node, restore_only)
        else:
            await self._group(node, restore_only)

    async def _group(self, group: Group, restore_only: bool) -> None:
        if group.mode == "parallel":
            await self._parallel(group, restore_only)
            return
        for index, child in enumerate(group.children):
            try:
                await self._node(child, restore_only)
            except Halt as halt:
                if group.service is not None or group.id == "all":
                    await self._restore_rest(group.children[index + 1 :], halt)
                raise

    async def _restore_rest(self, rest: tuple[Node, ...], halt: Halt) -> None:
        if halt.interrupted or self.stopping:
            return
        for child in rest:
            try:
                await self._node(child, restore_only=True)
            except Halt as more:
                halt.failures.extend(more.failures)

    async def _parallel(self, group: Group, restore_only: bool) -> None:
        limit = asyncio.Semaphore(group.limit or max(1, len(group.children)))

        async def one(child: Node) -> None:
            async with limit:
                await self._node(child, restore_only)

        results = await asyncio.gather(*(one(c) for c in group.children), return_exceptions=True)
        failures: list[StepFailed] = []
        interrupted = False
        for result in results:
            if isinstance(result, Halt):
                failures.extend(result.failures)
                interrupted |= result.interrupted
            elif isinstance(result, BaseException):
                raise result
        if not failures and not interrupted:
            return
        if failures and not interrupted and self._tolerable(group, failures):
            self.tolerated.extend(failures)
            self._emit(
                "message",
                message=f"{group.title}: {len(failures)} of "
                f"{len(group.children)} failed, within --max-fail-percent; going on",
            )
            return
        raise Halt(failures, interrupted)

    def _tolerable(self, group: Group, failures: list[StepFailed]) -> bool:
        if self.policy.max_fail_percent <= 0:
            return False
        hosts = {c.host for c in group.children if isinstance(c, Step)}
        if len(hosts) != len(group.children):
            return False
        return 100.0 * len(failures) / len(group.children) <= self.policy.max_fail_percent

    async def _step(self, step: Step, restore_only: bool) -> None:
        record = self.states.get(step.id)
        if record is not None and record.state in FINISHED:
            return
        if restore_only and not step.restore:
            return
        if self.stopping:
            raise Halt([], interrupted=True)
        host = self.hosts[step.host or ""]
        ctx = ActionContext(
            self.run_id,
            host,
            self.resume_hint,
            self.inits[host.name],
            on_command=self._on_command,
            probe_timeout=self.policy.gate_timeout,
            restarts_follow=step.host in self.restarts_read,
        )
        try:
            transport = await self.pool.get(host)
            if (
                record is not None
                and record.state == StepState.RUNNING
                and await self._probed(step, transport, ctx)
            ):
                return
            self.journal.step_started(self.run_id, step.id)
            self._emit("step-started", step, step.title)
            started = time.monotonic()
            outcome = await perform(step, transport, ctx)
        except TransportError as exc:
            self._failed(
                step, StepFailed(step.id, step.host, exc.message, hint=exc.hint or self.resume_hint)
            )
        except StepFailed as exc:
            self._failed(step, exc)
        self._done(step, outcome, time.monotonic() - started)

    async def _probed(self, step: Step, transport: Transport, ctx: ActionContext) -> bool:
        found = await probe(step, transport, ctx)
        verdict = {
            True: "already done",
            False: "not done: running it again",
            None: "no probe: running it again (safe to repeat)",
        }[found]
        self._emit("step-probed", step, f"was running when stackstep stopped; {verdict}")
        if found:
            self.journal.step_ended(
                self.run_id, step.id, StepState.DONE, message="verified by probe"
            )
            self.states[step.id] = self.journal.steps(self.run_id)[step.id]
        return bool(found)

    def _failed(self, step: Step, failure: StepFailed) -> NoReturn:
        if failure.hint is None:
            failure.hint = self.resume_hint
        # the step's own advice (what to look at, what to fix) is kept for the summary;
        # the bare resume command is printed there anyway
        fix: dict[str, Json] = {} if failure.hint == self.resume_hint else {"hint": failure.hint}
        detail = {**cast(dict[str, Json], failure.data), **fix}
        self.journal.step_ended(
            self.run_id,
            step.id,
            StepState.FAILED,
            message=failure.message,
            exit_status=failure.exit_status,
            output_tail=failure.output_tail,
            data=detail,
        )
        self._emit(
            "step-failed",
            step,
            failure.message,
            {"exit_status": failure.exit_status, "output_tail": failure.output_tail, **fix},
        )
        raise Halt([failure])

    def _done(self, step: Step, outcome: Outcome, seconds: float) -> None:
        state = outcome.state
        self.journal.step_ended(
            self.run_id,
            step.id,
            state,
            message=outcome.message,
            data=outcome.data,
        )
        kind: EventKind = "step-skipped" if state == StepState.SKIPPED else "step-finished"
        self._emit(kind, step, outcome.message, {"seconds": round(seconds, 3), **outcome.data})

    def _on_command(self, step: Step, result: Result) -> None:
        self._emit("command", step, result.command, command_data(result))
