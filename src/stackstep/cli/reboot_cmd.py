"""`stackstep reboot`: reboot the hosts that need it (a new kernel), rolling and
health-gated, or scheduled with `shutdown -r HH:MM`. docs/reboot.md."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.console import PlainConsole, run_epilogue
from stackstep.cli.main import handle_errors
from stackstep.cli.reboot_view import print_needs, print_order, print_outcomes, result_json
from stackstep.drivers import boot, nova
from stackstep.engine.events import EventBus
from stackstep.engine.journal import Journal, RunRecord
from stackstep.engine.logfile import LogWriter
from stackstep.engine.prober import probe_targets, probing
from stackstep.engine.runlock import claim, refuse_live
from stackstep.errors import InputError
from stackstep.model.facts import facts_from_json
from stackstep.model.inventory import Inventory
from stackstep.reboot.computes import ComputeControl, compute_control
from stackstep.reboot.detect import (
    HostOutcome,
    Need,
    Recorder,
    Target,
    api_hosts,
    build_targets,
    check_steps,
    detect,
    needs_from_journal,
    schedule,
)
from stackstep.reboot.rolling import RebootOptions, RollingReboot
from stackstep.session import Prepared, RunRequest, prepare
from stackstep.transport.factory import TransportPool

T = TypeVar("T")
VALUED = ("state_dir", "os_rc", "known_hosts")
FLAGS = ("accept_new_host_keys", "no_disable", "no_probe")


@dataclass(frozen=True)
class Source:
    """Where the hosts and their reboot need come from: a run, or the inventory now."""

    prepared: Prepared
    op_id: str  # the run's id, or a new ``reboot-...`` id for -i
    needs: list[Need] | None  # None: detect now
    title: str
    again: str  # the command that goes on after a failure


def _again(base: str, kw: dict[str, Any]) -> str:
    """``base`` with the options a rerun needs to go on the same way."""
    out = [base]
    out += [f"--{k.replace('_', '-')} {shlex.quote(str(kw[k]))}" for k in VALUED if kw.get(k)]
    out += [f"--{k.replace('_', '-')}" for k in FLAGS if kw.get(k)]
    out += [f"--parallel {kw['parallel']}"] if kw.get("parallel", 1) != 1 else []
    return " ".join(out)


def _run_of(journal: Journal, run_id: str | None) -> RunRecord:
    try:
        return journal.run(run_id)
    except InputError as exc:
        if run_id is not None:
            raise
        raise InputError(exc.message, hint="pass -i INVENTORY to check the hosts now") from None


def _from_run(journal: Journal, record: RunRecord, kw: dict[str, Any]) -> Source:
    request = RunRequest.from_json(record.request)
    if kw["inventory"]:
        request = replace(request, inventory=Path(kw["inventory"]))
    if kw["catalog_files"]:
        request = replace(request, catalog_files=tuple(Path(c) for c in kw["catalog_files"]))
    prepared = prepare(request, facts_from_json(json.loads(record.facts_json)))
    needs = needs_from_journal(record.id, journal.steps(record.id), journal.events(record.id))
    title = f"run {record.id} ({record.cloud}, {record.status})"
    return Source(prepared, record.id, needs, title, f"stackstep reboot {record.id}")


def _from_inventory(kw: dict[str, Any]) -> Source:
    request = RunRequest(Path(kw["inventory"]), tuple(Path(c) for c in kw["catalog_files"]))

    def not_live(inventory: Inventory) -> None:  # before a host is read
        refuse_live(opt.state_dir_of(kw), inventory.name, opt.resume_for(kw))

    prepared = prepare(request, discover=opt.transport_options(kw), before_hosts=not_live)
    op_id = f"reboot-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"
    catalogs = "".join(f" --catalog {shlex.quote(str(c))}" for c in kw["catalog_files"])
    again = f"stackstep reboot -i {shlex.quote(str(kw['inventory']))}{catalogs}"
    return Source(prepared, op_id, None, f"{prepared.inventory.name}, checked now", again)


def _confirm(question: str, yes: bool) -> None:
    if not opt.confirm(
        question,
        yes,
        "refusing to reboot hosts without confirmation",
        "read the list above, then rerun with --yes",
    ):
        raise SystemExit(exit_codes.OK)


def _at(text: str | None) -> str | None:
    try:
        return None if text is None else boot.parse_at(text)
    except ValueError as exc:
        raise InputError(f"--at: {exc}", hint="for example --at 02:00") from None


def _selected(needs: list[Need], patterns: tuple[str, ...]) -> list[Need]:
    wanted = [p.strip() for value in patterns for p in value.split(",") if p.strip()]
    return [n for n in needs if not wanted or any(fnmatch(n.host, p) for p in wanted)]


async def _interruptible(work: Awaitable[T], stop: Callable[[], None]) -> T:
    """First Ctrl-C (or SIGTERM): ``stop()``, going hosts finish; the second cancels."""
    loop, task, presses = asyncio.get_running_loop(), asyncio.current_task(), [0]

    def on_signal() -> None:
        presses[0] += 1
        if presses[0] == 1:
            stop()
        elif task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        return await work
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


class Session:
    """One `stackstep reboot`: console, log, journal events, transports."""

    def __init__(self, journal: Journal, source: Source, kw: dict[str, Any]) -> None:
        self.kw, self.source, self.journal = kw, source, journal
        self.as_json = bool(kw["as_json"])
        self.console = Console(stderr=self.as_json, highlight=False)
        self.log = LogWriter(journal.run_dir(source.op_id) / "reboot.log")
        bus = EventBus()
        bus.subscribe(self.log)
        bus.subscribe(PlainConsole(self.console))
        self.rec = Recorder(journal, bus, source.op_id)
        self.hosts = {h.name: h for h in source.prepared.inventory.hosts}
        self.again = _again(source.again, kw)

    def run(self, work: Callable[[TransportPool], Awaitable[T]], probe: bool = False) -> T:
        """``work`` with the hosts' connections; ``probe``: under the availability prober
        (a probe session ``reboot`` of the run, or of this reboot's own id)."""
        prepared = self.source.prepared
        targets = probe_targets(prepared.plan.steps(), prepared.inventory) if probe else []
        settings = opt.probe_settings(self.kw)

        async def main() -> T:
            async with (
                TransportPool(opt.transport_options(self.kw)) as pool,
                probing(self.journal, self.source.op_id, "reboot", targets, settings),
            ):
                return await work(pool)

        return asyncio.run(main())

    def needs(self) -> list[Need]:
        if self.source.needs is not None:
            return self.source.needs
        checks = check_steps(self.source.prepared.plan)
        return self.run(lambda pool: detect(checks, self.hosts, pool, self.rec))

    def control(self, targets: list[Target]) -> ComputeControl | None:
        computes = [t for t in targets if t.compute]
        if not computes or self.kw["no_disable"]:
            return None
        prepared = self.source.prepared
        release = prepared.catalog.release(prepared.plan.to_release)
        client = nova.client_for(release.version if release else "")
        apis = api_hosts(prepared.facts, prepared.inventory)
        api = apis[0] if apis else None
        rc = self.kw["os_rc"]
        return self.run(lambda pool: compute_control(api, computes, client, rc, pool, self.rec))

    def finish(self, mode: str, needs: list[Need], outcomes: list[HostOutcome], code: int) -> None:
        self.log.close()
        print_outcomes(self.console, outcomes, self.again)
        self.console.print(f"log: {self.log.path}", markup=False, highlight=False, soft_wrap=True)
        if mode == "rolling" and self.source.needs is not None:  # the hosts of a run
            run_epilogue(self.console, self.journal, self.source.op_id, self.kw["no_probe"])
        if self.as_json:
            body = result_json(self.source.op_id, mode, needs, outcomes, str(self.log.path))
            click.echo(json.dumps({**body, "exit_code": code}, indent=2))
        sys.exit(code)


def _stopped(console: Console, rolling: RollingReboot | None) -> None:
    """Stopped at once (second Ctrl-C): what may be half done."""
    lines = [
        f"{name} was being rebooted when stackstep stopped: check it"
        for name in sorted(rolling.going if rolling else ())
    ]
    lines += [
        f"nova-compute left disabled: {x}" for x in (rolling.still_disabled() if rolling else [])
    ]
    for line in lines:
        console.print(f"!! {line}", style="bold red", markup=False, soft_wrap=True)


def _rolling(session: Session, targets: list[Target], needs: list[Need]) -> None:
    kw = session.kw
    control = session.control(targets)
    print_order(session.console, targets, control, kw["parallel"], kw["no_disable"])
    _confirm(f"Reboot {len(targets)} host(s) now?", kw["yes"])
    options = RebootOptions(kw["parallel"], kw["boot_timeout"], kw["gate_timeout"])
    code = exit_codes.OK
    rolling: RollingReboot | None = None

    async def work(pool: TransportPool) -> list[HostOutcome]:
        nonlocal rolling
        rolling = RollingReboot(targets, pool, session.rec, options, control, session.again)
        return await _interruptible(rolling.run(), rolling.request_stop)

    try:
        outcomes = session.run(work, probe=True)
    except (asyncio.CancelledError, KeyboardInterrupt):
        outcomes = list(rolling.outcomes.values()) if rolling else []
        _stopped(session.console, rolling)
        code = exit_codes.INTERRUPTED
    if rolling is not None and rolling.stopping and code == exit_codes.OK:
        code = exit_codes.INTERRUPTED
    if any(o.state == "failed" for o in outcomes):
        code = exit_codes.FAILED
    session.finish("rolling", needs, outcomes, code)


SECONDS = click.FloatRange(min=1)
reboot_options = opt.options(
    opt.inventory(
        "check every host of this inventory now (without RUN); with RUN, reach its hosts "
        "through this file.",
        required=False,
    ),
    opt.catalog_files("extra catalog file(s), as for `plan`."),
    click.option(
        "--hosts",
        "patterns",
        multiple=True,
        metavar="PATTERN",
        help="only hosts matching these glob patterns (comma-separated or repeated).",
    ),
    click.option(
        "--at",
        metavar="HH:MM",
        help="schedule the reboot on each host with `shutdown -r HH:MM` (its local time) "
        "instead; `shutdown -c` cancels it.",
    ),
    opt.parallel(1, "hosts rebooted at once (hosts serving an API: one at a time, first)."),
    click.option(
        "--boot-timeout",
        type=SECONDS,
        default=600.0,
        show_default=True,
        help="seconds a host may take to answer SSH again with a new boot id.",
    ),
    click.option(
        "--gate-timeout",
        type=SECONDS,
        default=120.0,
        show_default=True,
        help="seconds its units and API probes may take to be healthy once back.",
    ),
    click.option(
        "--no-disable", is_flag=True, help="do not disable nova-compute on compute hosts first."
    ),
    click.option(
        "--os-rc",
        metavar="FILE",
        help="admin credentials file on the nova-api host, sourced before the nova client "
        "(default: the first readable of " + ", ".join(nova.RC_FILES) + ").",
    ),
    opt.state_dir("where the journal and the logs live (docs/state.md)."),
    opt.yes,
    opt.as_json("progress on stderr; one JSON result on stdout at the end."),
    opt.host_keys,
    opt.probe,
)


@click.command()
@click.argument("run_id", required=False)
@reboot_options
@handle_errors
def reboot(run_id: str | None, **kw: Any) -> None:
    """Reboot the hosts that need it (a newer kernel than the running one).

    Which: the reboot check of RUN (default: the latest run), or, with -i and no RUN, a
    check of every host now. Rolling (default): hosts serving an API one at a time, then
    the others --parallel at a time; compute hosts leave the scheduler first; each host
    must come back (new boot id) and be healthy before the next one starts. --at HH:MM
    schedules the reboots instead.
    """
    at = _at(kw["at"])
    journal = Journal(opt.state_dir_of(kw))
    if run_id is not None or not kw["inventory"]:
        record = _run_of(journal, run_id)
        with claim(journal, record.id, record.cloud, "reboot", opt.resume_for(kw)):
            _reboot(journal, _from_run(journal, journal.run(record.id), kw), at, kw)
        return
    source = _from_inventory(kw)
    cloud = source.prepared.inventory.name
    with claim(journal, source.op_id, cloud, "reboot", opt.resume_for(kw), resumable=False):
        _reboot(journal, source, at, kw)


def _reboot(journal: Journal, source: Source, at: str | None, kw: dict[str, Any]) -> None:
    session = Session(journal, source, kw)
    needs = _selected(session.needs(), kw["patterns"])
    prepared = source.prepared
    targets = build_targets(prepared.plan, prepared.facts, prepared.inventory, needs)
    print_needs(session.console, source.title, needs, targets)
    if not targets:
        session.finish("none", needs, [], exit_codes.OK)
    if at is None:
        _rolling(session, targets, needs)
        return
    _confirm(f"Schedule a reboot of {len(targets)} host(s) at {at}?", kw["yes"])
    outcomes = session.run(lambda pool: schedule(targets, at or "", pool, session.rec))
    failed = any(o.state == "failed" for o in outcomes)
    session.finish("schedule", needs, outcomes, exit_codes.FAILED if failed else exit_codes.OK)
