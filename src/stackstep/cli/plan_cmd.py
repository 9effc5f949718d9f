"""`stackstep plan`: the dry run."""

from __future__ import annotations

import json
from typing import Any

import click

from stackstep.cli.common import make_plan, plan_options
from stackstep.cli.main import handle_errors
from stackstep.report.plan_text import render_plan


@click.command()
@plan_options
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON (docs/plan-json.md).")
@click.option("--expand", is_flag=True, help="show every host's step on its own line.")
@handle_errors
def plan(as_json: bool, expand: bool, **kw: Any) -> None:
    """Show exactly what an upgrade would do. Changes nothing."""
    result = make_plan(kw)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_plan(result, expand=expand), nl=False)
