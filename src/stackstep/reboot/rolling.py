"""The rolling reboot: a few hosts at a time, each one health-gated.

Hosts that serve an API (their verify steps probe one) go first, one at a time, so that
the APIs, keystone and the nova client used to switch compute hosts stay up while the
others reboot; then the rest, ``parallel`` at a time, in inventory order. Per host:

1. read the boot id (nothing changes if the host cannot be reached);
2. compute hosts: disable nova-compute through a nova-api host (reboot/computes.py,
   checked beforehand);
3. reboot (``systemctl reboot``; the connection dropping under it is expected) and drop
   the pooled connection;
4. wait until the host answers again with a new boot id (``--boot-timeout``);
5. health: the units the plan starts there active, then its verify steps (API probe,
   smoke checks), within ``--gate-timeout``; the reboot check again (which kernel now);
6. enable nova-compute again.

The first host that fails stops the rolling: hosts already going finish, no other
starts, and a failed compute host's nova-compute stays disabled (said so, with the command
that enables it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from stackstep.drivers import boot, nova
from stackstep.engine.actions import perform
from stackstep.engine.health import retry_until, units_active
from stackstep.errors import (
    AuthenticationError,
    HostKeyError,
    PrivilegeError,
    StepFailed,
    TransportError,
)
from stackstep.model.plan import Json
from stackstep.reboot.computes import NO_DISABLE, ComputeControl
from stackstep.reboot.detect import HostOutcome, Need, Recorder, Target, need_of
from stackstep.transport.base import Result
from stackstep.transport.factory import TransportPool

COMMAND_TIMEOUT = 120.0
REBOOT_TIMEOUT = 30.0  # for the reboot command itself
ATTEMPT_TIMEOUT = 10.0  # one "are you back?" read while waiting
REFUSED = 1  # what systemctl and shutdown exit with when they refuse to reboot
FATAL = (HostKeyError, AuthenticationError, PrivilegeError)  # waiting longer will not help


@dataclass(frozen=True)
class RebootOptions:
    parallel: int = 1
    boot_timeout: float = 600.0
    gate_timeout: float = 120.0


Work = Callable[[str], Awaitable[str]]


class RollingReboot:
    def __init__(
        self,
        targets: Sequence[Target],
        pool: TransportPool,
        rec: Recorder,
        options: RebootOptions,
        compute: ComputeControl | None,
        again: str,
    ) -> None:
        self.targets = [t for t in targets if t.serves_api] + [
            t for t in targets if not t.serves_api
        ]
        self.pool, self.rec, self.options = pool, rec, options
        self.compute, self.again = compute, again
        self.outcomes: dict[str, HostOutcome] = {}
        self.disabled: dict[str, bool] = {}  # nova-compute switched off by us, and not back on
        self.going: set[str] = set()  # hosts started and not finished
        self.failed: HostOutcome | None = None
        self.stopping = False

    def request_stop(self) -> None:
        """No host starts any more; the ones going finish (Ctrl-C)."""
        if not self.stopping:
            self.stopping = True
            self.rec.emit("stopping", message="stopping: hosts going finish, no other starts")

    async def run(self) -> list[HostOutcome]:
        for target in (t for t in self.targets if t.serves_api):
            await self._next(target)
        gate = asyncio.Semaphore(self.options.parallel)

        async def one(target: Target) -> None:
            async with gate:
                await self._next(target)

        await asyncio.gather(*(one(t) for t in self.targets if not t.serves_api))
        return [self.outcomes[t.name] for t in self.targets]

    def still_disabled(self) -> list[str]:
        """Where nova-compute is off because of us: what to enable after an interruption."""
        return [
            self.compute.shown("enable", host)
            for host, off in self.disabled.items()
            if off and self.compute
        ]

    async def _next(self, target: Target) -> None:
        if self.failed is not None or self.stopping:
            why = (
                f"not started: the rolling reboot stopped at {self.failed.host}"
                if self.failed
                else "not started: stopping (interrupted)"
            )
            outcome = HostOutcome(target.name, "skipped", why)
        else:
            self.going.add(target.name)
            outcome = await self._host(target)
            self.going.discard(target.name)
            if outcome.state == "failed" and self.failed is None:
                self.failed = outcome
        self.outcomes[target.name] = outcome
        self.rec.outcome(outcome)

    async def _host(self, t: Target) -> HostOutcome:
        try:
            return await self._procedure(t)
        except StepFailed as exc:
            hint = exc.hint or ""
            if self.disabled.get(t.name) and self.compute:
                hint += (
                    f"; nova-compute on {t.name} stays DISABLED: once it is healthy, "
                    f"{self.compute.shown('enable', t.name)}"
                )
            return HostOutcome(t.name, "failed", exc.message, exc.step_id, hint)

    async def _procedure(self, t: Target) -> HostOutcome:
        before = await self._phase(t, "boot-id", "", lambda sid: self._boot_id(t, sid))
        if t.compute and self.compute:
            await self._phase(t, "disable-compute", "", lambda sid: self._switch(t, sid, "disable"))
        try:
            await self._phase(t, "reboot", "", lambda sid: self._reboot(t, sid))
        except StepFailed:
            if self.disabled.get(t.name):  # it did not reboot: give it back to the scheduler
                with contextlib.suppress(StepFailed):  # else the hint says it stays disabled
                    await self._phase(
                        t, "enable-compute", "", lambda sid: self._switch(t, sid, "enable")
                    )
            raise
        wait = f"waiting for {t.name} to come back (up to {self.options.boot_timeout:g} s)"
        back = await self._phase(t, "wait", wait, lambda sid: self._wait(t, sid, before))
        gate = f"checking {t.name}'s health (up to {self.options.gate_timeout:g} s)"
        health = await self._phase(t, "verify", gate, lambda sid: self._healthy(t, sid))
        kernel, need = await self._kernel(t)
        if self.disabled.get(t.name):
            await self._phase(t, "enable-compute", "", lambda sid: self._switch(t, sid, "enable"))
        data: dict[str, Json] = {
            "running": need.running,
            "newest": need.newest,
            "still_needed": need.needed,
        }
        return HostOutcome(t.name, "rebooted", f"{back}; {health}; {kernel}", data=data)

    async def _phase(self, t: Target, phase: str, announce: str, work: Work) -> str:
        """Run one phase as ``reboot/HOST/PHASE``: events, timing, errors as StepFailed."""
        sid = f"reboot/{t.name}/{phase}"
        if announce:
            self.rec.emit("step-started", t.name, sid, announce)
        started = time.monotonic()
        try:
            message = await work(sid)
        except TransportError as exc:
            failure = StepFailed(sid, t.name, exc.message, hint=exc.hint or self._hint(t, phase))
            self._failed(t, sid, failure)
        except StepFailed as exc:
            self._failed(t, sid, exc)
        seconds = round(time.monotonic() - started, 3)
        self.rec.emit("step-finished", t.name, sid, message, {"seconds": seconds})
        return message

    def _failed(self, t: Target, sid: str, failure: StepFailed) -> NoReturn:
        data = {"exit_status": failure.exit_status, "output_tail": failure.output_tail}
        self.rec.emit("step-failed", t.name, sid, failure.message, data)
        raise failure

    def _stop(
        self, t: Target, sid: str, phase: str, message: str, result: Result | None = None
    ) -> StepFailed:
        """The failure of a phase: what happened, the command's status and output, what to do."""
        return StepFailed(
            sid,
            t.name,
            message,
            exit_status=result.exit_status if result else None,
            output_tail=result.tail() if result else "",
            hint=self._hint(t, phase),
        )

    def _hint(self, t: Target, phase: str) -> str:
        again = f"`{self.again}` goes on with the hosts not rebooted yet"
        after = f"once {t.name} is up and healthy, {again} ({t.name} included)"
        return {
            "boot-id": f"nothing was changed on {t.name}; once it is reachable, {again}",
            "disable-compute": f"nothing was rebooted; check the nova API, {NO_DISABLE}",
            "reboot": f"{t.name} refused to reboot (sudo rights?); nothing else was changed",
            "wait": f"look at {t.name}'s console (boot loader, fsck, network); {after}",
            "verify": f"look at the units' logs on {t.name} (journalctl -u UNIT); {after}",
            "enable-compute": f"{t.name} is back and healthy: enable its nova-compute by hand",
        }.get(phase, again)

    async def _boot_id(self, t: Target, sid: str) -> str:
        result = await (await self.pool.get(t.host)).run(boot.boot_id_command(), timeout=30)
        self.rec.command(sid, result)
        found = boot.parse_boot_id(result.stdout)
        if found is None:
            raise self._stop(
                t, sid, "boot-id", f"cannot read the boot id: {result.tail(3)}", result
            )
        return found

    async def _switch(self, t: Target, sid: str, action: nova.Action) -> str:
        assert self.compute is not None
        transport = await self.pool.get(self.compute.api)
        result = await transport.run(self.compute.command(action, t.name), timeout=COMMAND_TIMEOUT)
        self.rec.command(sid, result)
        if not result.ok:
            shown = f"{self.compute.shown(action, t.name)} exited {result.exit_status}"
            raise self._stop(t, sid, f"{action}-compute", shown, result)
        self.disabled[t.name] = action == "disable"
        return f"nova-compute {action}d: {self.compute.shown(action, t.name)}"

    async def _reboot(self, t: Target, sid: str) -> str:
        command = boot.reboot_command(t.init)
        try:
            result = await (await self.pool.get(t.host)).run(command, timeout=REBOOT_TIMEOUT)
        except FATAL:
            raise
        except TransportError as exc:  # the connection went down under it: the reboot began
            await self.pool.drop(t.host)
            return f"`{command.render()}` sent; the connection dropped ({exc.message})"
        self.rec.command(sid, result)
        await self.pool.drop(t.host)
        if result.exit_status == REFUSED:  # other statuses: the session was cut short
            shown = f"`{result.command}` exited {result.exit_status}"
            raise self._stop(t, sid, "reboot", shown, result)
        return f"`{result.command}` sent (exit {result.exit_status})"

    async def _wait(self, t: Target, sid: str, before: str) -> str:
        started = time.monotonic()

        async def attempt() -> tuple[bool, str]:
            try:
                transport = await self.pool.get(t.host)
                result = await transport.run(boot.boot_id_command(), timeout=ATTEMPT_TIMEOUT)
            except FATAL:
                raise
            except TransportError as exc:
                await self.pool.drop(t.host)
                return False, f"no answer yet: {exc.message}"
            now = boot.parse_boot_id(result.stdout)
            if now is None:
                return False, f"no boot id yet: {result.tail(3)}"
            if now == before:
                return False, "it still runs the boot from before the reboot (same boot id)"
            self.rec.command(sid, result)
            return True, now

        ok, detail = await retry_until(attempt, self.options.boot_timeout)
        if not ok:
            within = f"did not come back within {self.options.boot_timeout:g} s: {detail}"
            raise self._stop(t, sid, "wait", within)
        return f"back after {time.monotonic() - started:.0f} s with a new boot id"

    async def _healthy(self, t: Target, sid: str) -> str:
        transport = await self.pool.get(t.host)
        units = list(t.units)

        async def attempt() -> tuple[bool, str]:
            states = await units_active(transport, t.init, units, COMMAND_TIMEOUT)
            down = [u for u, up in zip(units, states, strict=True) if not up]
            return not down, ("not active: " + ", ".join(down)) if down else ""

        ok, detail = await retry_until(attempt, self.options.gate_timeout)
        if not ok:
            after = f"{detail} ({self.options.gate_timeout:g} s after it came back)"
            raise self._stop(t, sid, "verify", after)
        details = [f"{len(units)} unit(s) active"]
        ctx = self.rec.context(
            t.host, t.init, sid, self._hint(t, "verify"), self.options.gate_timeout
        )
        for step in t.verify:
            outcome = await perform(step, transport, ctx)
            details += [d for d in outcome.message.split("; ") if d != "units active"]
        return ", ".join(details)

    async def _kernel(self, t: Target) -> tuple[str, Need]:
        """The reboot check again: which kernel runs now, and is another reboot needed?"""
        if t.check is None:
            return "kernel not checked", Need(t.name, None)
        sid = f"reboot/{t.name}/check"
        ctx = self.rec.context(t.host, t.init, sid, "", self.options.gate_timeout)
        try:
            outcome = await perform(t.check, await self.pool.get(t.host), ctx)
        except (TransportError, StepFailed) as exc:
            return f"kernel not checked: {exc.message}", Need(t.name, None)
        need = need_of(t.name, outcome.data)
        was = f" (was {t.need.running})" if t.need.running != need.running else ""
        if need.needed:
            message = (
                f"STILL NEEDS A REBOOT: {need.why}; is the new kernel the boot loader's "
                "default? (grubby --default-kernel)"
            )
        else:
            message = f"running {need.running}{was}"
        self.rec.emit("step-finished", t.name, sid, message, outcome.data)
        return message, need
