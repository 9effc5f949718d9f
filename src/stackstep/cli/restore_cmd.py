"""`stackstep restore RUN SERVICE`: roll one service back with the run's backup."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.console import PlainConsole, run_epilogue
from stackstep.cli.main import handle_errors
from stackstep.engine.events import EventBus
from stackstep.engine.journal import Journal, RunRecord
from stackstep.engine.logfile import LogWriter
from stackstep.engine.prober import probe_targets, probing
from stackstep.engine.runlock import claim
from stackstep.errors import InputError
from stackstep.model.inventory import Host, Inventory
from stackstep.model.plan import steps_from_json
from stackstep.restore.plan import RestorePlan, plan_restore
from stackstep.restore.run import Restorer
from stackstep.session import RunRequest, load_all
from stackstep.transport.factory import TransportPool


def _confirm(plan: RestorePlan, yes: bool) -> None:
    if not opt.confirm(
        f"Restore {plan.service} on {len(plan.hosts)} host(s) now?",
        yes,
        "refusing to restore without confirmation",
        "read what the restore will do above, then rerun with --yes",
    ):
        raise SystemExit(exit_codes.OK)


def _hosts(record: RunRecord, inventory: Inventory, plan: RestorePlan) -> dict[str, Host]:
    """The run's hosts from its inventory (how to reach them)."""
    hosts = {h.name: h for h in inventory.hosts}
    wanted = {p.host for p in plan.hosts} | {plan.backup_host}
    missing = sorted(wanted - set(hosts))
    if missing:
        raise InputError(
            f"{', '.join(missing)} (hosts of run {record.id}) are not in {inventory.source}",
            hint="put them back in the inventory the run used",
        )
    return hosts


def _command(record: RunRecord, service: str, state_dir: Path | None) -> str:
    extra = f" --state-dir {state_dir}" if state_dir else ""
    return f"stackstep restore {record.id} {service}{extra}"


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("service")
@opt.state_dir("where the run's journal is (docs/state.md).")
@opt.known_hosts()
@opt.probe
@opt.yes
@opt.as_json("progress on stderr; one JSON result on stdout.")
@handle_errors
def restore(run_id: str, service: str, state_dir: Path | None, **kw: Any) -> None:
    """Roll SERVICE back to where run RUN found it, from the run's database backup.

    Stops the service, puts its packages back to their versions before the run,
    restores its database from the dump the run took before migrating it, starts it and
    verifies it. Shows what it will do and asks once (docs/restore.md).
    """
    journal = Journal(opt.state_dir_of({"state_dir": state_dir}))
    record = journal.run(run_id)
    resume = opt.resume_for({"state_dir": state_dir})
    with claim(journal, record.id, record.cloud, "restore", resume):
        _restore(journal, journal.run(record.id), service, state_dir, kw)


def _restore(
    journal: Journal, record: RunRecord, service: str, state_dir: Path | None, kw: dict[str, Any]
) -> None:
    as_json = bool(kw["as_json"])
    request = RunRequest.from_json(record.request)
    plan = plan_restore(record, journal.steps(record.id), service)
    for line in plan.describe():
        click.echo(line, err=as_json)
    _confirm(plan, bool(kw["yes"]))
    inventory = load_all(request.inventory, request.catalog_files)[1]
    hosts = _hosts(record, inventory, plan)
    console = Console(stderr=as_json, highlight=False)
    log = LogWriter(journal.run_dir(record.id) / "run.log")
    bus = EventBus()
    bus.subscribe(log)
    bus.subscribe(PlainConsole(console))
    restorer = Restorer(
        plan,
        journal,
        bus,
        hosts,
        request.options.parallel,
        _command(record, service, state_dir),
    )

    verify = steps_from_json(json.loads(record.plan_json).get("root"), "verify", service)
    targets = probe_targets(verify, inventory)

    async def main() -> list[str]:
        async with (
            TransportPool(opt.transport_options(kw)) as pool,
            probing(journal, record.id, "restore", targets, opt.probe_settings(kw)),
        ):
            return await restorer.execute(pool)

    try:
        lines = asyncio.run(main())
    except KeyboardInterrupt:
        if restorer.error is not None:
            click.echo(restorer.error.render().replace(" failed:", " interrupted:", 1), err=True)
        raise
    finally:
        log.close()
    for line in [*lines, f"log: {log.path}"]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    run_epilogue(console, journal, record.id, not opt.probe_settings(kw).enabled)
    if as_json:
        body = {"run": record.id, "service": service, "status": "restored", "exit_code": 0}
        print(json.dumps({**body, "lines": lines, "log": str(log.path)}, indent=2))
