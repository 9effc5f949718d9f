"""`stackstep report`: a run's report, as one HTML page or as JSON. Reads only the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors


@click.command()
@click.argument("run_id", metavar="[RUN]", required=False)
@opt.state_dir()
@opt.as_json("print the report as JSON (docs/report.md) instead of writing the HTML page.")
@click.option(
    "--html",
    "html_file",
    type=opt.FILE,
    help="write the HTML page to FILE (default: report.html next to the run log).",
)
@handle_errors
def report(run_id: str | None, html_file: Path | None, **kw: Any) -> None:
    """A run's report (default: the latest): one HTML page with a timeline, or JSON.

    The page is one self-contained file (it opens offline): the run's facts, a timeline of
    every step per host with each service's outage shaded, the downtime table, failures
    with their output, config files set aside, restarts and reboots. Without --json or
    --html it is written next to the run log and its path printed.
    """
    from stackstep.engine.journal import Journal  # noqa: PLC0415
    from stackstep.report.run_html import write_html_report  # noqa: PLC0415
    from stackstep.report.run_report import run_report  # noqa: PLC0415

    journal = Journal(opt.state_dir_of(kw))
    record = journal.run(run_id)
    if kw["as_json"]:
        click.echo(json.dumps(run_report(journal, record.id), indent=2))
        if html_file is None:
            return
    path = write_html_report(journal, record.id, html_file)
    click.echo(str(path), err=bool(kw["as_json"]))
