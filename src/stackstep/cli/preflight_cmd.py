"""`stackstep preflight`: every reason the upgrade would stop before it changes anything,
all at once, each with its host and fix. Read-only; the same checks are the first phase
of `stackstep upgrade`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from rich.console import Console

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.console import print_lines
from stackstep.cli.main import handle_errors
from stackstep.discovery import discover
from stackstep.engine.preflight import Finding, preflight_hosts
from stackstep.errors import PlanError
from stackstep.planner import build_plan
from stackstep.planner.facts import facts_from_discovery
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.report.summary import finding_lines
from stackstep.session import load_all
from stackstep.transport.factory import TransportPool


@click.command()
@opt.plan_options
@opt.host_keys
@opt.as_json("print the findings as JSON.")
@handle_errors
def preflight(as_json: bool, **kw: Any) -> None:
    """Check the cloud is ready to upgrade; change nothing.

    Every host: reachable, sudo, free space under /var and the package cache, the target
    repository reachable, its services healthy now (units, API, the inventory's smoke
    commands), one version of each service across hosts, and on modern releases
    `<service>-status upgrade check` (exit 1 warns, 2 blocks); and the from -> to pair
    is an upgrade path. Exit 0 when ready (warnings allowed), 3 when a problem was found.
    """
    findings, checked = _check(kw)
    problems = [f for f in findings if f.severity == "problem"]
    code = exit_codes.BLOCKED if problems else exit_codes.OK
    if as_json:
        body = {
            "ready": not problems,
            "exit_code": code,
            "hosts_checked": checked,
            "problems": [f.to_json() for f in problems],
            "warnings": [f.to_json() for f in findings if f.severity == "warning"],
        }
        click.echo(json.dumps(body, indent=2))
    else:
        _print(Console(highlight=False, soft_wrap=True), findings, checked)
    sys.exit(code)


def _check(kw: dict[str, Any]) -> tuple[list[Finding], int]:
    request = opt.run_request(kw)
    catalog, inventory = load_all(request.inventory, request.catalog_files)
    options = request.options
    try:
        src, dst = resolve_releases(catalog, inventory, options)
        series = resolve_series(catalog, src, dst)
    except PlanError as exc:
        return [_plan_problem(exc)], 0

    async def main() -> tuple[list[Finding], int]:
        # one connection per host serves discovery and the checks
        async with TransportPool(opt.transport_options(kw)) as pool:
            found = await discover(inventory.hosts, pool, catalog, kw["parallel"])
            findings = [_unreachable(d.name, d.error) for d in found if d.error]
            facts = facts_from_discovery(inventory, catalog, series, found)
            try:
                plan = build_plan(inventory, catalog, facts, options)
            except PlanError as exc:
                return [*findings, _plan_problem(exc)], 0
            bad = {f.host for f in findings}
            readable = {h.name: h for h in inventory.hosts if h.name not in bad}
            findings += await preflight_hosts(plan, pool, readable, facts, kw["parallel"])
            return findings, len(inventory.hosts)

    return asyncio.run(main())


def _unreachable(host: str, error: str) -> Finding:
    message, _, hint = error.removeprefix(f"{host}: ").partition("\n  hint: ")
    fix = hint or "check the address, that sshd runs there, and the ssh user and key"
    return Finding(host, "ssh", "problem", f"unreachable: {message}", fix)


def _plan_problem(exc: PlanError) -> Finding:
    return Finding(
        None, "upgrade-path", "problem", exc.message, exc.hint or "see `stackstep catalog`"
    )


def _print(console: Console, findings: list[Finding], checked: int) -> None:
    problems = [f for f in findings if f.severity == "problem"]
    warnings = [f for f in findings if f.severity == "warning"]
    print_lines(console, finding_lines(findings))
    count = len({f.host for f in problems if f.host})
    if problems:
        where = f" on {count} host(s)" if count else ""
        console.print(
            f"preflight: {len(problems)} problem(s){where}, {len(warnings)} "
            "warning(s); nothing was changed. Fix them, then run preflight again.",
            style="bold red",
            markup=False,
        )
    else:
        console.print(
            f"preflight: {checked} host(s) ready, {len(warnings)} warning(s); nothing was changed",
            style="bold green",
            markup=False,
        )
