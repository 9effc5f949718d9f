"""`stackstep catalog`: what stackstep knows about releases and services."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stackstep.catalog import load_catalog
from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors
from stackstep.errors import InputError
from stackstep.report.catalog_text import catalog_json, render_catalog


@click.command()
@click.option("--series", "series_name", metavar="NAME", help="show only this series' services.")
@opt.catalog_files("extra catalog TOML file(s) to load and validate.")
@opt.as_json()
@handle_errors
def catalog(series_name: str | None, catalog_files: tuple[Path, ...], as_json: bool) -> None:
    """List releases, upgrade paths and services (validates --catalog files)."""
    loaded = load_catalog(catalog_files)
    if series_name and all(s.name != series_name for s in loaded.series):
        known = ", ".join(s.name for s in loaded.series)
        raise InputError(f"no series named {series_name!r}", hint=f"known: {known}")
    if as_json:
        click.echo(json.dumps(catalog_json(loaded), indent=2))
    else:
        click.echo(render_catalog(loaded, series_name), nl=False)
