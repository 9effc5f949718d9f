"""`stackstep upgrade` and `resume`: carry a plan out, journalled.

Loading, discovery and planning are :mod:`stackstep.session`'s; the journal keeps the
run request it made. The engine, SSH and the console are imported when a command runs,
not for its `--help`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors
from stackstep.model.states import RunStatus

if TYPE_CHECKING:
    from stackstep.engine.journal import Journal, RunRecord
    from stackstep.model.inventory import Inventory
    from stackstep.session import Prepared
    from stackstep.transport.factory import PoolSession

run_options = opt.options(
    opt.state_dir("where journals, logs and backups live (docs/state.md)."),
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
    opt.host_keys,
    opt.probe,
    opt.load,
    opt.yes,
    opt.as_json("progress on stderr; one JSON result on stdout at the end."),
)


# what an upgrade imports between its discovery and its first step (the plan text, the
# engine, the console; the journal came with the run lock): loaded while discovery waits
# on the hosts
RUN_MODULES = (
    "stackstep.report.plan_text",
    "stackstep.engine.executor",
    "stackstep.engine.prober",
    "stackstep.engine.load",
    "stackstep.engine.logfile",
    "rich.console",
    "rich.live",
    "stackstep.cli.console",
    "stackstep.report.summary",
)


def _import_meanwhile(names: tuple[str, ...]) -> threading.Thread:
    """Import ``names`` in a thread (started now; join it before importing anything
    else). A module that fails to import is left to fail where it is used."""

    def load() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # raised again by the import that needs it
                return

    thread = threading.Thread(target=load, name="stackstep-imports", daemon=True)
    thread.start()
    return thread


def _confirm(prepared: Prepared, yes: bool) -> None:
    hosts, services = len(prepared.plan.hosts), ", ".join(prepared.plan.services)
    if not opt.confirm(
        f"Upgrade {hosts} host(s) ({services}) now?",
        yes,
        "refusing to change the cloud without confirmation",
        "read the plan above, then rerun with --yes",
    ):
        raise SystemExit(exit_codes.OK)


def begin_run(journal: Journal, prepared: Prepared, run_id: str | None = None) -> str:
    """A new run in the journal, with the plan, the facts and the run request; its id
    (``run_id`` when given: one already locked)."""
    from stackstep.model.facts import facts_to_json  # noqa: PLC0415

    return journal.new_run(
        prepared.plan,
        facts_to_json(prepared.facts),
        prepared.request.absolute().to_json(),
        str(prepared.inventory.source),
        prepared.inventory.digest,
        prepared.catalog.digest,
        run_id,
    )


def carry_out(
    prepared: Prepared,
    journal: Journal,
    run_id: str,
    kw: dict[str, Any],
    connections: PoolSession | None = None,
    command: str = "upgrade",
) -> int:
    """Run the plan, print the summary; the exit code. Connects through ``connections``
    when given (an upgrade's, already connected by its discovery), else opens its own."""
    if connections is None:
        from stackstep.transport.factory import PoolSession  # noqa: PLC0415

        with PoolSession(opt.transport_options(kw)) as own:
            return carry_out(prepared, journal, run_id, kw, own, command)
    from rich.console import Console  # noqa: PLC0415

    from stackstep.cli.console import (  # noqa: PLC0415
        LiveConsole,
        PlainConsole,
        print_lines,
        write_report,
    )
    from stackstep.engine.executor import Policy  # noqa: PLC0415
    from stackstep.report.summary import result_json, summary_lines  # noqa: PLC0415
    from stackstep.session import execute  # noqa: PLC0415

    as_json = bool(kw.get("as_json"))
    console = Console(stderr=as_json, highlight=False)
    live = console.is_terminal and not os.environ.get("STACKSTEP_PLAIN")
    view = LiveConsole(console, prepared.plan) if live else PlainConsole(console)
    resume = opt.resume_command(run_id, kw)
    policy = Policy(kw.get("max_fail_percent") or 0.0, kw.get("gate_timeout") or 120.0)
    load = opt.load_settings(kw, journal.last_load_rate(run_id))
    try:
        result, log_path = execute(
            prepared,
            journal,
            run_id,
            connections,
            view,
            policy,
            resume,
            opt.probe_settings(kw),
            command,
            load,
        )
    finally:
        view.close()
    probe_off = not opt.probe_settings(kw).enabled
    write_report(console, journal, run_id)
    print_lines(
        console, summary_lines(journal, run_id, result, resume, log_path, probe_off=probe_off)
    )
    code = {RunStatus.DONE: exit_codes.OK, RunStatus.INTERRUPTED: exit_codes.INTERRUPTED}.get(
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
        body = result_json(journal, run_id, result, resume, log_path, code, probe_off=probe_off)
        print(json.dumps(body, indent=2))
    return code


@click.command()
@opt.plan_options
@run_options
@click.option(
    "--no-discover",
    is_flag=True,
    help="plan from the inventory alone instead of reading the hosts first.",
)
@handle_errors
def upgrade(**kw: Any) -> None:
    """Upgrade the cloud: discover, show the plan, ask once, carry it out with a journal."""
    import stackstep.discovery  # noqa: F401, PLC0415  (before the thread below starts)
    from stackstep.engine.runlock import refuse_live  # noqa: PLC0415
    from stackstep.session import prepare  # noqa: PLC0415
    from stackstep.transport.factory import PoolSession  # noqa: PLC0415

    transport = opt.transport_options(kw)
    discover = None if kw["no_discover"] else transport
    state_dir, resume = opt.state_dir_of(kw), opt.resume_for(kw)

    def not_live(inventory: Inventory) -> None:  # before a host is read, and again below
        refuse_live(state_dir, inventory.name, resume)

    with PoolSession(transport) as connections:
        meanwhile = _import_meanwhile(RUN_MODULES)
        try:
            prepared = prepare(
                opt.run_request(kw),
                discover=discover,
                connections=connections,
                before_hosts=not_live,
            )
        finally:
            meanwhile.join()
        sys.exit(_upgrade(prepared, kw, connections))


def _upgrade(prepared: Prepared, kw: dict[str, Any], connections: PoolSession) -> int:
    from stackstep.engine.journal import Journal, new_run_id  # noqa: PLC0415
    from stackstep.engine.runlock import claim  # noqa: PLC0415
    from stackstep.report.plan_text import render_plan  # noqa: PLC0415

    click.echo(render_plan(prepared.plan, footer=""), nl=False, err=bool(kw["as_json"]))
    if not kw["yes"]:  # the plan may be read for long: leave no idle connection to go stale
        connections.run(connections.pool.close())
    _confirm(prepared, kw["yes"])
    journal = Journal(opt.state_dir_of(kw))
    run_id = new_run_id()
    with claim(journal, run_id, prepared.plan.cloud, "upgrade", opt.resume_for(kw)):
        begin_run(journal, prepared, run_id)
        click.echo(f"run {run_id}: journal {journal.path}", err=bool(kw["as_json"]))
        return carry_out(prepared, journal, run_id, kw, connections)


@click.command()
@click.argument("run_id", required=False)
@click.option("--replan", is_flag=True, help="accept a plan that changed since the run began.")
@run_options
@handle_errors
def resume(run_id: str | None, replan: bool, **kw: Any) -> None:
    """Continue a run where it stopped (default: the latest run)."""
    from stackstep.engine.journal import Journal  # noqa: PLC0415
    from stackstep.engine.runlock import claim  # noqa: PLC0415

    journal = Journal(opt.state_dir_of(kw))
    record = journal.run(run_id)
    if record.status != RunStatus.DONE:
        with claim(journal, record.id, record.cloud, "resume", opt.resume_for(kw)):
            record = journal.run(record.id)  # as the process before this one left it
            if record.status != RunStatus.DONE:
                sys.exit(_resume(journal, record, replan, kw))
    click.echo(f"run {record.id} is already done: nothing to resume")


def _resume(journal: Journal, record: RunRecord, replan: bool, kw: dict[str, Any]) -> int:
    from stackstep.errors import ResumeRefused  # noqa: PLC0415
    from stackstep.model.facts import facts_from_json  # noqa: PLC0415
    from stackstep.session import RunRequest, prepare  # noqa: PLC0415

    request = RunRequest.from_json(record.request)
    prepared = prepare(request, facts_from_json(json.loads(record.facts_json)))
    if prepared.plan.hash != record.plan_hash:
        if not replan:
            raise ResumeRefused(
                f"the plan for run {record.id} has changed since it started "
                f"({record.plan_hash[:12]} -> {prepared.plan.hash[:12]}): the inventory, "
                "the catalog or stackstep itself differs",
                hint="see the new plan with `stackstep plan`, then "
                f"`{opt.resume_command(record.id, kw)} --replan`",
            )
        journal.replace_plan(record.id, prepared.plan)
    click.echo(
        f"resuming run {record.id} ({record.cloud}, plan {prepared.plan.hash[:12]})",
        err=bool(kw["as_json"]),
    )
    return carry_out(prepared, journal, record.id, kw, command="resume")
