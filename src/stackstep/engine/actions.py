"""The single interpretation table: what each kind of step does, and its probe.

``perform(step, transport, ctx)`` carries a step out and returns its outcome (or raises
:class:`~stackstep.errors.StepFailed`). ``probe(step, transport, ctx)`` answers "is this
step's effect already there?" for a step that was running when a process died: True
(done, do not repeat), False (not done, run it), None (no probe: the step is safe to
repeat, so run it again).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from stackstep.drivers import (
    digests,
    haproxy,
    kernels,
    loaded,
    packages,
    requires,
    services,
    stale,
    systemd,
)
from stackstep.engine import balancer
from stackstep.engine.backup import backup_database
from stackstep.engine.health import api_probe, commands_active, smoke_check, units_active
from stackstep.engine.hooks import file_hook, run_or_fail
from stackstep.engine.preflight import check_host
from stackstep.errors import StepFailed
from stackstep.model.command import Command
from stackstep.model.inventory import Host, InitSystem
from stackstep.model.params import (
    DrainParams,
    HookParams,
    LbWaitParams,
    PreflightParams,
    Probe,
    RestartParams,
    UnitsParams,
    VerifyParams,
)
from stackstep.model.plan import Json, Step, StepKind
from stackstep.model.states import StepState
from stackstep.transport.base import Result, Transport

CommandListener = Callable[[Step, Result], None]
Finished = Literal[StepState.DONE, StepState.SKIPPED]  # how a step that did not fail ends
DONE: Finished = StepState.DONE


@dataclass
class ActionContext:
    run_id: str
    host: Host
    resume_hint: str
    init: InitSystem  # what the host's units are checked with (health.init_of)
    on_command: CommandListener = field(default=lambda step, result: None)
    probe_timeout: float = 120.0
    restarts_follow: bool = False  # the plan restarts this host's units from their processes


@dataclass(frozen=True)
class Outcome:
    state: Finished
    message: str = ""
    data: dict[str, Json] = field(default_factory=dict)


async def run_checked(
    step: Step, transport: Transport, ctx: ActionContext, command: Command
) -> Result:
    """:func:`hooks.run_or_fail` with the run's resume hint."""
    return await run_or_fail(step, transport, ctx.on_command, command, hint=ctx.resume_hint)


async def _commands(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    for command in step.commands:
        await run_checked(step, transport, ctx, command)
    return Outcome(DONE)


async def _upgrade(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """A package transaction; one from the prefetched cache (yum/dnf ``-C``) that fails is
    run once more asking the repository: the cache may have been cleaned since (a resume
    days later), and a repeated failure is reported as it is."""
    try:
        return await _commands(step, transport, ctx)
    except StepFailed:
        fallback = [c for c in map(packages.uncached, step.commands) if c is not None]
        if not fallback:
            raise
    for command in fallback:
        await run_checked(step, transport, ctx, command)
    return Outcome(DONE, "not all in the prefetched cache: installed from the repository")


async def _full_upgrade(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """A full upgrade that restart-units follows (the final phase's on a systemd host; not
    the all-at-once strategy's, inside its outage) first records the package manager's
    digests of the installed loaded code on the host (drivers/digests.py), so that the
    restarts can tell a file written with new content from one written again with the
    same. The record of a run is never overwritten: a resumed or repeated step keeps the
    one taken before its first transaction (so the step stays repeatable, no probe).
    Without a record (it could not be written) every file written since a process
    started counts as changed, as before; the transaction goes on either way."""
    if not ctx.restarts_follow:
        return await _upgrade(step, transport, ctx)
    apt = any(packages.is_apt(c) for c in step.commands)
    command = digests.record_command("dpkg" if apt else "rpm", ctx.run_id)
    result = await transport.run(command, timeout=step.timeout)
    ctx.on_command(step, result)
    record = digests.parse_record(result.stdout) if result.exit_status == 0 else None
    done = await _upgrade(step, transport, ctx)
    if record is None:
        note = "no record of file digests (see the log): the restarts count every file written"
    elif record.kept:
        note = f"kept the record of file digests taken before the first try: {record.path}"
    else:
        note = f"recorded {record.files} file digests first: {record.path}"
    data: dict[str, Json] = {"digests": record.path if record else None}
    return Outcome(done.state, "; ".join(m for m in (done.message, note) if m), data)


async def _guard_says_needed(step: Step, transport: Transport, ctx: ActionContext) -> bool:
    when = step.params.when if isinstance(step.params, HookParams) else None
    if when is None:
        return True
    result = await transport.run(Command(when.argv), timeout=step.timeout)
    ctx.on_command(step, result)
    if when.exit_codes:
        return result.exit_status in when.exit_codes
    return re.search(when.output_matches, result.stdout + result.stderr, re.MULTILINE) is not None


async def _preflight(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Every check of the host (engine/preflight.py); all problems in one failure."""
    findings = await check_host(
        step, transport, ctx.host, ctx.init, lambda r: ctx.on_command(step, r)
    )
    data: dict[str, Json] = {"findings": [f.to_json() for f in findings]}
    problems = [f for f in findings if f.severity == "problem"]
    warnings = [f for f in findings if f.severity == "warning"]
    if problems:
        lines = [f"{len(problems)} problem(s) before anything changes:"]
        lines += [f"  - {f.message}\n    fix: {f.fix}" for f in [*problems, *warnings]]
        raise StepFailed(
            step.id, step.host, "\n".join(lines), hint=ctx.resume_hint, data=dict(data)
        )
    params = step.params
    checks = ", ".join(params.checks if isinstance(params, PreflightParams) else ())
    message = f"ready ({checks})"
    if warnings:
        message += "; WARNINGS: " + "; ".join(f"{f.message} (fix: {f.fix})" for f in warnings)
    return Outcome(DONE, message, data)


async def _hook(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    if not await _guard_says_needed(step, transport, ctx):
        return Outcome(StepState.SKIPPED, "not needed: its condition does not hold on this host")
    if isinstance(step.params, HookParams) and step.params.hook_kind != "command":
        message = await file_hook(step, transport, ctx.on_command, ctx.run_id)
        return Outcome(DONE, message)
    if isinstance(step.params, HookParams) and step.params.again_exit is not None:
        return await _until_done(step, transport, ctx, step.params.again_exit)
    return await _commands(step, transport, ctx)


MAX_ROUNDS = 100_000  # a batch command that always says "more" is a bug, not progress


async def _until_done(step: Step, transport: Transport, ctx: ActionContext, again: int) -> Outcome:
    """A command that works in batches (``online_data_migrations --max-count N``): run
    it again while it exits ``again`` (progress made, more to do) until it exits 0;
    any other status fails the step (2: errors and no progress)."""
    rounds = 0
    for command in step.commands:
        while True:
            rounds += 1
            result = await transport.run(command, timeout=step.timeout)
            ctx.on_command(step, result)
            if result.exit_status == again and rounds < MAX_ROUNDS:
                continue
            if result.exit_status == 0:
                break
            raise StepFailed(
                step.id,
                step.host,
                f"`{result.command}` exited with status {result.exit_status} "
                f"after {rounds} round(s)",
                exit_status=result.exit_status,
                output_tail=result.tail(),
                hint="read its output (2: errors and no progress); fix them, then "
                + ctx.resume_hint,
            )
    return Outcome(DONE, f"done in {rounds} round(s) (exit {again}: more to do)")


async def _verify(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    params = step.params if isinstance(step.params, VerifyParams) else VerifyParams(())
    found = await commands_active(transport, step.commands, step.timeout)  # as the plan shows
    down = [u for u in params.units if not found.get(u, False)]
    if down:
        raise StepFailed(
            step.id,
            step.host,
            "not running: " + ", ".join(down),
            hint="look at the unit's log (journalctl -u UNIT) on the host, then " + ctx.resume_hint,
        )
    details = ["units active"]
    if params.probe is not None:
        ok, detail = await _probe(params.probe, transport, ctx)
        if not ok:
            raise StepFailed(
                step.id, step.host, f"API probe failed: {detail}", hint=ctx.resume_hint
            )
        details.append(detail)
    for command in params.smoke or ():
        ok, detail = await smoke_check(
            transport, command, ctx.probe_timeout, lambda r: ctx.on_command(step, r)
        )
        if not ok:
            raise StepFailed(
                step.id,
                step.host,
                f"smoke check failed: {detail}",
                hint="run the command on the host to see why (the inventory's smoke:), "
                "then " + ctx.resume_hint,
            )
        details.append(detail)
    return Outcome(DONE, "; ".join(details))


async def _probe(probe: Probe, transport: Transport, ctx: ActionContext) -> tuple[bool, str]:
    """GET the probe's URL until it answers as expected or the gate timeout passes."""
    expect = list(probe.expect)
    return await api_probe(transport, ctx.host, probe.url, expect, ctx.probe_timeout)


async def _apis_answer(step: Step, transport: Transport, ctx: ActionContext) -> str:
    """After a restart on a host serving APIs: wait until each answers again."""
    details = []
    for probe in step.params.probes if isinstance(step.params, RestartParams) else ():
        ok, detail = await _probe(probe, transport, ctx)
        if not ok:
            raise StepFailed(
                step.id,
                step.host,
                f"restarted, but the API does not answer: {detail}",
                hint="look at the unit's log (journalctl -u UNIT) on the host, then "
                + ctx.resume_hint,
            )
        details.append(detail)
    return "; APIs answer" if details else ""


async def _upgrade_check(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """``<svc>-status upgrade check``: 0 passes, 1 warns (the run goes on), anything else
    stops it before the migration (2: a failure to fix; 255: the tool itself failed)."""
    result = await transport.run(step.commands[0], timeout=step.timeout)
    ctx.on_command(step, result)
    report = " | ".join(x.strip(" |") for x in result.tail().splitlines() if x.strip(" |+-"))
    if result.exit_status == 0:
        return Outcome(DONE, "all upgrade checks passed")
    if result.exit_status == 1:
        return Outcome(DONE, f"WARNINGS (the upgrade may go on): {report[-500:]}")
    raise StepFailed(
        step.id,
        step.host,
        f"`{result.command}` reports a failure (exit {result.exit_status}) with the new code",
        exit_status=result.exit_status,
        output_tail=result.tail(),
        hint="its packages are upgraded, its database not migrated yet: fix what it "
        "reports (the release notes say how), then " + ctx.resume_hint,
    )


async def _backup(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    path, message = await backup_database(step, transport, ctx.run_id, ctx.on_command)
    return Outcome(DONE, message, {"backup": path})


async def _collect(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    results = [await run_checked(step, transport, ctx, c) for c in step.commands]
    found = sorted(line for r in results for line in r.stdout.splitlines() if line.strip())
    files: list[Json] = list(found)
    return Outcome(DONE, f"{len(found)} file(s) set aside", {"files": files})


async def _reboot(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Running kernel vs the newest installed one (version-sorted), plus the distro's
    own flag (``needs-restarting -r`` exit 1, ``/run/reboot-required``)."""
    running, installed, flagged = "", [], False
    for command in step.commands:
        result = await transport.run(command, timeout=step.timeout)
        ctx.on_command(step, result)
        argv = command.reveal()
        if argv[:1] == ["uname"]:
            running = result.stdout.strip()
        elif argv[:3] == ["rpm", "-q", "--last"]:
            installed = kernels.parse_rpm_last(result.stdout)
        elif argv[:2] == ["ls", "/boot"]:
            installed = kernels.parse_boot_listing(result.stdout)
        elif argv[:1] == ["needs-restarting"] or argv[:1] == ["test"]:
            flagged |= result.exit_status == (1 if argv[0] == "needs-restarting" else 0)
    newest = kernels.newest_kernel(installed)
    needed = flagged or (bool(running) and kernels.reboot_needed(running, installed))
    data: dict[str, Json] = {"running": running, "newest": newest, "reboot_needed": needed}
    if needed:
        return Outcome(DONE, f"REBOOT NEEDED: running {running}, newest {newest}", data)
    return Outcome(DONE, f"no reboot needed (running {running})", data)


RETRY_DELAY = 2.0


async def _retried(
    step: Step, transport: Transport, ctx: ActionContext, commands: tuple[Command, ...]
) -> str:
    """Run ``commands``; on a failure, once more after a short pause, as an operator would
    (a unit that just crashed may still be cleaning up, a port may still be held)."""
    try:
        for command in commands:
            await run_checked(step, transport, ctx, command)
        return ""
    except StepFailed:
        await asyncio.sleep(RETRY_DELAY)
        for command in commands:
            await run_checked(step, transport, ctx, command)
        return f"succeeded on the second try (after {RETRY_DELAY:g} s)"


async def _units(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Start/restart units (retried once)."""
    return Outcome(DONE, await _retried(step, transport, ctx, step.commands))


async def _loaded_verdicts(
    step: Step,
    transport: Transport,
    ctx: ActionContext,
    pids: dict[str, int],
    installed: list[tuple[int, str]],
) -> dict[str, loaded.Verdict]:
    """Read the units' processes; a verdict for each unit whose main process was read
    (drivers/loaded.py): does it run code that changed on disk since it started?"""
    if not pids:
        return {}
    read = await run_checked(step, transport, ctx, loaded.processes_command(pids.values()))
    data = loaded.parse_processes(read.stdout)
    if data is None:
        return {}
    since = loaded.oldest_start(data)
    if since is None:
        return loaded.loaded_code_changed(pids, data, [])
    fresh = sorted({n for t, n in installed if t >= int(since)})
    if not any(p.python for p in data.processes.values()):
        fresh = []
    files = loaded.candidate_files(data)
    checked = digests.Checked([], [], {})
    closures: dict[str, frozenset[str]] = {}
    if fresh or files:
        command = digests.check_command(ctx.run_id, since - loaded.MARGIN, fresh, files)
        checked = digests.parse_check((await run_checked(step, transport, ctx, command)).stdout)
    if checked.modules or checked.same:
        found = await transport.run(requires.closure_command(pids), timeout=step.timeout)
        closures = requires.parse_closures(found.stdout) if found.exit_status == 0 else {}
    return loaded.loaded_code_changed(
        pids, data, checked.modules, checked.same, checked.files, closures
    )


async def _by_install_times(
    step: Step,
    transport: Transport,
    ctx: ActionContext,
    units: dict[str, systemd.UnitState],
    installed: list[tuple[int, str]],
    library_packages: tuple[str, ...],
) -> dict[str, stale.Stale]:
    """For units whose processes could not be read: started no later than a package
    matching ``library_packages`` was installed (drivers/stale.py)."""
    pids = {u: s.main_pid for u, s in units.items() if s.main_pid > 0}
    clock_run = await run_checked(step, transport, ctx, stale.clock_command(pids.values()))
    clock = stale.parse_clock(clock_run.stdout)
    if clock is None:
        return {}
    starts = {u: clock.starts[p] for u, p in pids.items() if p in clock.starts}
    # a process that ended between the two questions is timed by systemd instead
    starts.update(
        (u, clock.from_monotonic(state.started_monotonic_us))
        for u, state in units.items()
        if u not in starts and state.started_monotonic_us > 0
    )
    return {s.unit: s for s in stale.stale_units(starts, installed, list(library_packages))}


async def _restart_stale(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Restart the units whose loaded code changed on disk since they started, read from
    their processes (drivers/loaded.py: a mapped file replaced, or for Python, its script
    or modules of its version changed after it started; a file written again with the
    content recorded before the full upgrade does not count, drivers/digests.py), and
    those that stopped since
    they were verified. A unit whose processes cannot be read falls back to package
    install times (drivers/stale.py). SysV hosts restart the catalog's known-to-break
    units instead."""
    params = step.params if isinstance(step.params, RestartParams) else None
    if params is None or not params.detect_stale:
        done = await _units(step, transport, ctx)
        return Outcome(DONE, done.message + await _apis_answer(step, transport, ctx))
    show, installs = [await run_checked(step, transport, ctx, c) for c in step.commands]
    states = systemd.parse_show(show.stdout)
    known = {
        u: states[f"{u}.service"]
        for u in params.units
        if f"{u}.service" in states and states[f"{u}.service"].exists
    }
    if not known:
        return Outcome(DONE, "nothing to restart: no OpenStack unit is installed here")
    installed = stale.parse_install_times(installs.stdout)
    # a unit that died since its service was verified (nova-compute meeting a new glance
    # client) is brought back too
    why = {u: f"it had stopped: {s.active_state}" for u, s in known.items() if not s.running}
    running = {u: s for u, s in known.items() if u not in why}
    pids = {u: s.main_pid for u, s in running.items() if s.main_pid > 0}
    verdicts = await _loaded_verdicts(step, transport, ctx, pids, installed)
    unread = {u: s for u, s in running.items() if u not in verdicts}
    if unread:
        found = await _by_install_times(
            step, transport, ctx, unread, installed, params.library_packages
        )
        for unit, late in found.items():
            why[unit] = f"{late.because()}; its processes could not be read"
    for unit, verdict in verdicts.items():
        if verdict.changed:
            why[unit] = verdict.because()
    units = tuple(u for u in known if u in why)
    kept = {u: v.kept_because() for u, v in verdicts.items() if u not in why}
    data: dict[str, Json] = {
        "restarted": list(units),
        "why": {u: why[u] for u in units},
        "kept": dict(kept),
    }
    kept_text = ", ".join(f"{u} ({because})" for u, because in kept.items())
    if not units:
        message = f"nothing to restart: {len(running)} unit(s) run the code on disk"
        return Outcome(DONE, message + (f"; kept {kept_text}" if kept else ""), data)
    command = services.unit_action("systemd", "restart", units)
    retried = await _retried(step, transport, ctx, command)
    message = "restarted " + ", ".join(f"{u} ({why[u]})" for u in units)
    if kept:
        message += f"; kept {kept_text}"
    message += (f"; {retried}" if retried else "") + await _apis_answer(step, transport, ctx)
    return Outcome(DONE, message, data)


async def _drain(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Create/remove the health check disable files on the node, or set servers
    drain/ready through HAProxy's admin socket on a load balancer. Repeatable."""
    params = step.params if isinstance(step.params, DrainParams) else None
    if params is None or not params.pairs:
        await _commands(step, transport, ctx)
    else:
        state: haproxy.State = "drain" if params.direction == "out" else "ready"
        await balancer.set_state(
            transport,
            params.socket,
            params.pairs,
            state,
            step_id=step.id,
            on_result=lambda r: ctx.on_command(step, r),
        )
    what = "out of" if params is None or params.direction == "out" else "back into"
    return Outcome(DONE, f"{params.node if params else step.host} {what} rotation")


async def _lb_wait(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    """Poll HAProxy until the node's servers are out with no session (or up again)."""
    params = step.params
    if not isinstance(params, LbWaitParams):
        return Outcome(DONE, "nothing to wait for")
    wait = balancer.wait_out if params.direction == "out" else balancer.wait_in
    waited = await wait(
        transport,
        params.socket,
        params.pairs,
        float(params.timeout),
        step_id=step.id,
        on_result=lambda r: ctx.on_command(step, r),
    )
    state = "out of rotation, no session left" if params.direction == "out" else "UP"
    servers = ", ".join("/".join(p) for p in params.pairs)
    message = f"{servers} {state} on {waited.host} after {waited.seconds:.1f} s"
    return Outcome(DONE, message, waited.to_json())


Action = Callable[[Step, Transport, ActionContext], Awaitable[Outcome]]
ACTIONS: dict[StepKind, Action] = {
    StepKind.PREFLIGHT: _preflight,
    StepKind.ENABLE_REPO: _commands,
    StepKind.PREFETCH: _commands,
    StepKind.STOP_UNITS: _commands,
    StepKind.HOOK: _hook,
    StepKind.UPGRADE_PACKAGES: _upgrade,
    StepKind.UPGRADE_CHECK: _upgrade_check,
    StepKind.BACKUP_DB: _backup,
    StepKind.MIGRATE_DB: _commands,
    StepKind.START_UNITS: _units,
    StepKind.VERIFY: _verify,
    StepKind.COLLECT_CONFIGS: _collect,
    StepKind.FULL_UPGRADE: _full_upgrade,
    StepKind.RESTART_UNITS: _restart_stale,
    StepKind.REBOOT_CHECK: _reboot,
    StepKind.DRAIN: _drain,
    StepKind.LB_WAIT: _lb_wait,
}


async def perform(step: Step, transport: Transport, ctx: ActionContext) -> Outcome:
    return await ACTIONS[step.kind](step, transport, ctx)


async def probe(step: Step, transport: Transport, ctx: ActionContext) -> bool | None:
    """Is the step's effect already there? None: no probe, the step is safe to repeat."""
    units = list(step.params.units) if isinstance(step.params, UnitsParams) else []
    if step.kind == StepKind.STOP_UNITS:
        return not any(await units_active(transport, ctx.init, units, step.timeout))
    if step.kind == StepKind.START_UNITS:
        return all(await units_active(transport, ctx.init, units, step.timeout))
    if isinstance(step.params, HookParams) and step.params.when is not None:
        return not await _guard_says_needed(step, transport, ctx)
    return None
