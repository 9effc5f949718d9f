"""`stackstep upgrade`, `resume`, `status`, `runs`: carry a plan out, journalled."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from stackstep.cli import exit_codes
from stackstep.cli.common import (
    Prepared,
    confirm,
    host_key_options,
    plan_options,
    prepare,
    request_json,
    transport_options,
)
from stackstep.cli.console import LiveConsole, PlainConsole
from stackstep.cli.main import handle_errors
from stackstep.cli.summary import print_result_json, print_status, print_summary
from stackstep.engine.events import EventBus
from stackstep.engine.executor import Executor, Policy, RunResult
from stackstep.engine.journal import Journal, default_state_dir
from stackstep.engine.logfile import LogWriter
from stackstep.errors import ResumeRefused
from stackstep.model.facts import facts_from_json, facts_to_json
from stackstep.report.plan_text import render_plan
from stackstep.transport.factory import TransportPool


def run_options(func: Any) -> Any:
    decorators: list[Callable[[Any], Any]] = [
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="where journals, logs and backups live (docs/state.md).",
        ),
        click.option(
            "--max-fail-percent",
            type=click.FloatRange(0, 100),
            default=0.0,
            show_default=True,
            help="let a parallel group of hosts lose this share and go on.",
        ),
        click.option(
            "--gate-timeout",
            type=click.FloatRange(min=1),
            default=120.0,
            show_default=True,
            help="seconds a service's health gate (API probe, smoke checks) may take to pass.",
        ),
        host_key_options,
        click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation."),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="progress on stderr; one JSON result on stdout at the end.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _state_dir(kw: dict[str, Any]) -> Path:
    return Path(kw["state_dir"]) if kw.get("state_dir") else default_state_dir()


def resume_command(run_id: str, kw: dict[str, Any]) -> str:
    extra = f" --state-dir {kw['state_dir']}" if kw.get("state_dir") else ""
    return f"stackstep resume {run_id}{extra}"


def _confirm(prepared: Prepared, yes: bool) -> None:
    hosts, services = len(prepared.plan.hosts), ", ".join(prepared.plan.services)
    if not confirm(
        f"Upgrade {hosts} host(s) ({services}) now?",
        yes,
        "refusing to change the cloud without confirmation",
        "read the plan above, then rerun with --yes",
    ):
        raise SystemExit(exit_codes.OK)


async def _execute(executor: Executor) -> RunResult:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            executor.request_stop()
        elif task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    try:
        return await executor.execute()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)


def carry_out(prepared: Prepared, journal: Journal, run_id: str, kw: dict[str, Any]) -> int:
    as_json = bool(kw.get("as_json"))
    console = Console(stderr=as_json, highlight=False)
    log = LogWriter(journal.run_dir(run_id) / "run.log")
    bus = EventBus()
    bus.subscribe(log)
    live = console.is_terminal and not os.environ.get("STACKSTEP_PLAIN")
    view = LiveConsole(console, prepared.plan) if live else PlainConsole(console)
    bus.subscribe(view)
    options = transport_options(kw)
    hosts = {h.name: h for h in prepared.inventory.hosts}

    async def main() -> RunResult:
        async with TransportPool(options) as pool:
            executor = Executor(
                prepared.plan,
                run_id,
                journal,
                bus,
                pool,
                hosts,
                Policy(kw.get("max_fail_percent") or 0.0, kw.get("gate_timeout") or 120.0),
                resume_command(run_id, kw),
                prepared.facts,
            )
            return await _execute(executor)

    try:
        result = asyncio.run(main())
    except asyncio.CancelledError:
        result = RunResult("interrupted")
    finally:
        view.close()
        log.close()
    print_summary(console, journal, run_id, result, resume_command(run_id, kw), log.path)
    code = {"done": exit_codes.OK, "interrupted": exit_codes.INTERRUPTED}.get(
        result.status, exit_codes.FAILED
    )
    if result.failures and all(f.step_id.startswith("preflight/") for f in result.failures):
        console.print(
            f"preflight found problems on {len(result.failures)} host(s); nothing was changed",
            style="bold red",
            markup=False,
        )
        code = exit_codes.BLOCKED
    if as_json:
        print_result_json(journal, run_id, result, resume_command(run_id, kw), log.path, code)
    return code


@click.command()
@plan_options
@run_options
@click.option(
    "--no-discover",
    is_flag=True,
    help="plan from the inventory alone instead of reading the hosts first.",
)
@handle_errors
def upgrade(**kw: Any) -> None:
    """Upgrade the cloud: discover, show the plan, ask once, carry it out with a journal."""
    prepared = prepare(kw, discovered=not kw["no_discover"])
    click.echo(render_plan(prepared.plan, footer=""), nl=False, err=bool(kw["as_json"]))
    _confirm(prepared, kw["yes"])
    journal = Journal(_state_dir(kw))
    run_id = journal.new_run(
        prepared.plan,
        facts_to_json(prepared.facts),
        request_json(kw),
        str(prepared.inventory.source),
        prepared.inventory.digest,
        prepared.catalog.digest,
    )
    click.echo(f"run {run_id}: journal {journal.path}", err=bool(kw["as_json"]))
    sys.exit(carry_out(prepared, journal, run_id, kw))


@click.command()
@click.argument("run_id", required=False)
@click.option("--replan", is_flag=True, help="accept a plan that changed since the run began.")
@run_options
@handle_errors
def resume(run_id: str | None, replan: bool, **kw: Any) -> None:
    """Continue a run where it stopped (default: the latest run)."""
    journal = Journal(_state_dir(kw))
    record = journal.run(run_id)
    if record.status == "done":
        click.echo(f"run {record.id} is already done: nothing to resume")
        return
    request = record.request
    prepared = prepare(dict(request), facts_from_json(json.loads(record.facts_json)))
    if prepared.plan.hash != record.plan_hash:
        if not replan:
            raise ResumeRefused(
                f"the plan for run {record.id} has changed since it started "
                f"({record.plan_hash[:12]} -> {prepared.plan.hash[:12]}): the inventory, "
                "the catalog or stackstep itself differs",
                hint="see the new plan with `stackstep plan`, then "
                f"`{resume_command(record.id, kw)} --replan`",
            )
        journal.replace_plan(record.id, prepared.plan)
    click.echo(
        f"resuming run {record.id} ({record.cloud}, plan {prepared.plan.hash[:12]})",
        err=bool(kw["as_json"]),
    )
    sys.exit(carry_out(prepared, journal, record.id, {**kw, **request}))


@click.command()
@click.argument("run_id", required=False)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print as JSON.")
@handle_errors
def status(run_id: str | None, state_dir: Path | None, as_json: bool) -> None:
    """Where a run stands (default: the latest): step counts, failure, what is down."""
    journal = Journal(state_dir or default_state_dir())
    record = journal.run(run_id)
    print_status(
        Console(highlight=False),
        journal,
        record,
        as_json,
        resume_command(record.id, {"state_dir": state_dir}),
    )


@click.command()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print as JSON.")
@handle_errors
def runs(state_dir: Path | None, as_json: bool) -> None:
    """List the runs in the state directory, newest first."""
    journal = Journal(state_dir or default_state_dir())
    records = journal.runs()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "status": r.status,
                        "cloud": r.cloud,
                        "created": r.created,
                        "plan_hash": r.plan_hash,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
        return
    if not records:
        click.echo(f"no runs in {journal.state_dir}")
    for r in records:
        click.echo(
            f"{r.id}  {r.status:<11} {r.cloud:<16} plan {r.plan_hash[:12]}  {r.message[:60]}"
        )
