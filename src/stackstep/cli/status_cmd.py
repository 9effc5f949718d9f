"""`stackstep status` and `runs`: what the journal says of the runs. Reads only."""

from __future__ import annotations

import json
from typing import Any

import click

from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors


@click.command()
@click.argument("run_id", required=False)
@opt.state_dir()
@opt.as_json()
@handle_errors
def status(run_id: str | None, **kw: Any) -> None:
    """Where a run stands (default: the latest): step counts, failure, what is down."""
    from rich.console import Console  # noqa: PLC0415

    from stackstep.cli.console import print_lines  # noqa: PLC0415
    from stackstep.engine.journal import Journal  # noqa: PLC0415
    from stackstep.report.summary import status_json, status_lines  # noqa: PLC0415

    journal = Journal(opt.state_dir_of(kw))
    record = journal.run(run_id)
    resume = opt.resume_command(record.id, kw)
    console = Console(highlight=False)
    if kw["as_json"]:
        console.print_json(json.dumps(status_json(journal, record, resume)))
    else:
        print_lines(console, status_lines(journal, record, resume))


@click.command()
@opt.state_dir()
@opt.as_json()
@handle_errors
def runs(**kw: Any) -> None:
    """List the runs in the state directory, newest first."""
    from stackstep.engine.journal import Journal  # noqa: PLC0415
    from stackstep.report.summary import Process  # noqa: PLC0415

    journal = Journal(opt.state_dir_of(kw))
    records = [(r, Process.of(journal, r)) for r in journal.runs()]
    if kw["as_json"]:
        click.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "status": r.status,
                        "cloud": r.cloud,
                        "created": r.created,
                        "plan_hash": r.plan_hash,
                        "live": process.holder is not None,
                        "gone": process.gone,
                    }
                    for r, process in records
                ],
                indent=2,
            )
        )
        return
    if not records:
        click.echo(f"no runs in {journal.state_dir}")
    for r, process in records:
        note = r.message[:60]
        if process.holder is not None:
            note = f"live: `stackstep {process.holder.command}` (pid {process.holder.pid})"
        elif process.gone:
            note = f"its process (pid {r.pid}) is gone: {opt.resume_command(r.id, kw)}"
        click.echo(f"{r.id}  {r.status:<11} {r.cloud:<16} plan {r.plan_hash[:12]}  {note}")
