"""Options and loading shared by the commands that plan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stackstep.catalog import load_catalog
from stackstep.errors import DiscoveryFailed, InputError
from stackstep.inventory.loader import check_smoke, load_inventory
from stackstep.model.catalog import Catalog
from stackstep.model.facts import Discovered, Facts
from stackstep.model.inventory import Inventory
from stackstep.model.plan import Plan
from stackstep.planner import STRATEGIES, PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.facts import facts_from_discovery
from stackstep.planner.options import DEFAULT_PARALLEL
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.transport.base import TransportOptions


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def plan_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option(
            "-i",
            "--inventory",
            "inventory",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="stackstep YAML inventory, or an Ansible INI/YAML inventory.",
        ),
        click.option(
            "--from",
            "from_release",
            metavar="RELEASE",
            help="release the cloud runs now (default: the inventory's `release`).",
        ),
        click.option(
            "--to",
            "to_release",
            metavar="RELEASE",
            help="release to upgrade to (default: the inventory's `target`, else the next).",
        ),
        click.option(
            "--strategy",
            type=click.Choice(STRATEGIES),
            default=STRATEGIES[0],
            show_default=True,
            help="one service at a time, or everything at once.",
        ),
        click.option(
            "--only",
            multiple=True,
            metavar="SERVICES",
            help="upgrade only these services (comma-separated or repeated).",
        ),
        click.option("--skip", multiple=True, metavar="SERVICES", help="leave these services out."),
        click.option(
            "--parallel",
            type=click.IntRange(min=1),
            default=DEFAULT_PARALLEL,
            show_default=True,
            help="at most this many hosts at once in a step.",
        ),
        click.option("--no-prefetch", is_flag=True, help="do not download packages ahead."),
        click.option("--no-backup", is_flag=True, help="take NO database backups (no rollback)."),
        click.option(
            "--force",
            is_flag=True,
            help="go on although a service is unhealthy before the upgrade (preflight warns).",
        ),
        click.option(
            "--include-unassigned",
            is_flag=True,
            help="also upgrade hosts with no role (repository, every package, reboot check).",
        ),
        click.option(
            "--catalog",
            "catalog_files",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="extra catalog TOML file(s) overriding or adding to the shipped one.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def load_all(inventory: Path, catalog_files: tuple[Path, ...]) -> tuple[Catalog, Inventory]:
    catalog = load_catalog(catalog_files)
    services = {n for n in catalog.service_names() if ":" not in n}
    return catalog, load_inventory(inventory, catalog.ansible_group_map(), services=services)


@dataclass(frozen=True)
class Prepared:
    catalog: Catalog
    inventory: Inventory
    facts: Facts
    options: PlanOptions
    plan: Plan


def make_plan(kw: dict[str, Any]) -> Plan:
    return prepare(kw).plan


def host_key_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--known-hosts`` and ``--accept-new-host-keys``, as :func:`transport_options` reads them."""
    func = click.option(
        "--accept-new-host-keys",
        is_flag=True,
        help="trust and record keys of hosts not yet in known_hosts.",
    )(func)
    return click.option(
        "--known-hosts",
        type=click.Path(dir_okay=False),
        help="known_hosts file to verify host keys against (default ~/.ssh).",
    )(func)


def transport_options(kw: dict[str, Any]) -> TransportOptions:
    return TransportOptions(
        known_hosts=kw.get("known_hosts"),
        accept_new_host_keys=bool(kw.get("accept_new_host_keys")),
    )


def run_discovery(inventory: Inventory, catalog: Catalog, kw: dict[str, Any]) -> list[Discovered]:
    # imported here: SSH (asyncssh) costs a plan without --discover a third of a second
    import asyncio  # noqa: PLC0415

    from stackstep.discovery import discover  # noqa: PLC0415
    from stackstep.transport.factory import TransportPool  # noqa: PLC0415

    async def main() -> list[Discovered]:
        async with TransportPool(transport_options(kw)) as pool:
            return await discover(inventory.hosts, pool, catalog, kw.get("parallel") or 20)

    return asyncio.run(main())


def require_reachable(found: list[Discovered]) -> None:
    """Stop (exit 3) listing every host discovery could not read."""
    bad = [d for d in found if d.error]
    if bad:
        raise DiscoveryFailed([d.error or d.name for d in bad])


def plan_request(kw: dict[str, Any]) -> PlanOptions:
    """The plan options from the command line's values."""
    return PlanOptions(
        from_release=kw["from_release"],
        to_release=kw["to_release"],
        strategy=kw["strategy"],
        only=_split(kw["only"]),
        skip=_split(kw["skip"]),
        parallel=kw["parallel"],
        prefetch=not kw["no_prefetch"],
        backup=not kw["no_backup"],
        force=bool(kw.get("force")),
        include_unassigned=bool(kw.get("include_unassigned")),
    )


def prepare(
    kw: dict[str, Any], facts: Facts | None = None, *, discovered: bool = False
) -> Prepared:
    """Load, (take, discover or derive) facts, plan. ``kw`` holds the options' values."""
    catalog, inventory = load_all(
        Path(kw["inventory"]), tuple(Path(c) for c in kw["catalog_files"])
    )
    options = plan_request(kw)
    src, dst = resolve_releases(catalog, inventory, options)
    series = resolve_series(catalog, src, dst)
    check_smoke(inventory, series)
    found: list[Discovered] = []
    if facts is None and discovered:
        found = run_discovery(inventory, catalog, kw)
        require_reachable(found)
        facts = facts_from_discovery(inventory, catalog, series, found)
    if facts is None:
        facts = facts_from_inventory(inventory, catalog, series)
    return Prepared(
        catalog, inventory, facts, options, build_plan(inventory, catalog, facts, options)
    )


PLAN_KEYS = (
    "inventory",
    "from_release",
    "to_release",
    "strategy",
    "only",
    "skip",
    "parallel",
    "no_prefetch",
    "no_backup",
    "force",
    "include_unassigned",
    "catalog_files",
)


def request_json(kw: dict[str, Any]) -> dict[str, Any]:
    """The plan options as JSON, with paths made absolute (resume may run elsewhere)."""
    out = {k: kw.get(k, False) for k in PLAN_KEYS}
    out["inventory"] = str(Path(kw["inventory"]).resolve())
    out["catalog_files"] = [str(Path(c).resolve()) for c in kw["catalog_files"]]
    out["only"], out["skip"] = list(kw["only"]), list(kw["skip"])
    return out


def confirm(question: str, yes: bool, refusal: str, hint: str) -> bool:
    """``--yes``, or ask once on a terminal; without a terminal refuse (exit 2)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(refusal, hint=hint)
    return bool(click.confirm(question, default=False))
