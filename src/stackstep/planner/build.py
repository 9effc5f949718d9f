"""``build_plan``: resolve everything once, then let the strategy assemble the tree."""

from __future__ import annotations

from stackstep.errors import PlanError
from stackstep.model.catalog import Catalog
from stackstep.model.facts import Facts
from stackstep.model.hostrange import compress
from stackstep.model.inventory import Inventory
from stackstep.model.plan import Plan
from stackstep.planner.context import Context, Placement
from stackstep.planner.facts import undeclared
from stackstep.planner.options import AUTO, STRATEGIES, PlanOptions
from stackstep.planner.rolling import prefers_rolling, rolling
from stackstep.planner.select import order_services, place, resolve_releases, resolve_series
from stackstep.planner.strategies import all_at_once, service_by_service


def build_plan(inventory: Inventory, catalog: Catalog, facts: Facts, options: PlanOptions) -> Plan:
    if options.strategy not in (*STRATEGIES, AUTO):
        raise PlanError(
            f"unknown strategy {options.strategy!r}", hint="one of: " + ", ".join(STRATEGIES)
        )
    if options.parallel < 1:
        raise PlanError("--parallel must be at least 1")
    if not facts.hosts:
        raise PlanError("the inventory has no hosts")
    src, dst = resolve_releases(catalog, inventory, options)
    series = resolve_series(catalog, src, dst)
    for name in inventory.smoke:
        if series.service(name) is None:
            known = ", ".join(s.name for s in series.services)
            raise PlanError(
                f"smoke: unknown service {name!r} for {series.title}", hint=f"known: {known}"
            )
    placements = [place(s, facts, inventory) for s in order_services(series, options)]
    for requested in options.only:
        pl = next((p for p in placements if requested in p.service.names), None)
        if pl is not None and not pl.hosts:
            raise PlanError(
                f"--only {requested}: no host in the inventory runs {pl.service.name}",
                hint="give a host a role that includes it (see `stackstep catalog`)",
            )
    present = tuple(p for p in placements if p.hosts)
    alone = [] if options.include_unassigned else unassigned(inventory, facts)
    if len(alone) == len(facts.hosts):
        raise PlanError(
            "no host has a role: nothing to upgrade ("
            + "; ".join(f"{h}: {why}" for h, why in alone[:5])
            + ("; ..." if len(alone) > 5 else "")
            + ")",
            hint="give hosts roles (docs/inventory.md), or pass --include-unassigned "
            "to upgrade every package on them",
        )
    if alone:
        skipped = {h for h, _ in alone}
        facts = Facts(tuple(h for h in facts.hosts if h.name not in skipped), facts.source)
    ctx = Context(inventory, series, facts, src, dst, options, present)
    strategy = _strategy(ctx)
    build = {"rolling": rolling, "all-at-once": all_at_once}.get(strategy, service_by_service)
    return Plan(
        cloud=inventory.name,
        from_release=src.name,
        to_release=dst.name,
        strategy=strategy,
        root=build(ctx),
        options={**options.to_json(), "strategy": strategy},
        hosts=tuple(h.name for h in facts.hosts),
        services=tuple(p.service.name for p in present),
        warnings=_warnings(ctx, placements, catalog),
        facts_source=facts.source,
        left_alone=tuple(alone),
    )


def _strategy(ctx: Context) -> str:
    """The strategy asked for; for ``auto``, rolling when the cloud supports it."""
    if ctx.options.strategy != AUTO:
        return ctx.options.strategy
    return "rolling" if prefers_rolling(ctx) else STRATEGIES[0]


def unassigned(inventory: Inventory, facts: Facts) -> list[tuple[str, str]]:
    """Hosts that run no service the catalog knows (no role, or discovery found none):
    ``(host, why)``. The plan gives them no step unless ``--include-unassigned``."""
    empty = [h.name for h in facts.hosts if not h.components]
    by_name = {h.name: h for h in inventory.hosts} if empty else {}
    out: list[tuple[str, str]] = []
    balancers = inventory.load_balancer.hosts if inventory.load_balancer else ()
    for name in empty:
        host = by_name.get(name)
        if name in balancers:
            out.append((name, "load balancer: a rolling upgrade drains nodes through it"))
            continue
        declared = () if host is None else (*host.roles, *host.services)
        if declared:
            why = f"no service of its roles ({', '.join(declared)})"
            why += " found on it" if facts.source == "discovery" else " in this release"
        else:
            why = "no role"
            if host is not None and host.groups:
                why += f" (groups: {', '.join(host.groups)})"
            if facts.source == "discovery":
                why += "; discovery found no OpenStack service on it"
        out.append((name, why))
    return out


def _warnings(ctx: Context, placements: list[Placement], catalog: Catalog) -> tuple[str, ...]:
    out = list(ctx.inventory.notes)
    if ctx.options.include_unassigned and ctx.facts.source != "discovery":
        blind = [h for h, _ in unassigned(ctx.inventory, ctx.facts)]
        if blind:
            out.append(
                f"--include-unassigned: {', '.join(compress(blind))} (no role) "
                f"{'gets' if len(blind) == 1 else 'get'} the repository, a full package "
                "upgrade and a reboot check; an OpenStack service "
                "installed there would be upgraded without being stopped, verified or "
                "restarted (plan with --discover to find and handle it)"
            )
    absent = [p.service.name for p in placements if not p.hosts]
    if absent:
        out.append("not in this cloud (no host runs them): " + ", ".join(absent))
    if not ctx.options.backup:
        out.append(
            "--no-backup: NO database backups will be taken; a failed migration "
            "cannot be rolled back with `stackstep restore`"
        )
    if ctx.options.force:
        out.append(
            "--force: a service found unhealthy by preflight only warns; the upgrade goes on"
        )
    out.extend(_shared_units(ctx))
    out.extend(_undeclared(ctx, catalog))
    return tuple(out)


def _undeclared(ctx: Context, catalog: Catalog) -> list[str]:
    """Components discovery found on a host with roles that none of its roles names."""
    if ctx.facts.source != "discovery":
        return []
    found: dict[str, list[str]] = {}
    for host, extra in undeclared(ctx.inventory, catalog, ctx.series, ctx.facts):
        found.setdefault(", ".join(extra), []).append(host)
    return [
        f"{', '.join(compress(hosts))}: discovery found {what} in use, which no role of "
        "the host names: planned there too (stopped, upgraded, started, verified)"
        for what, hosts in found.items()
    ]


def _shared_units(ctx: Context) -> list[str]:
    """Stopping a unit that another service also lives in stops that service too."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for pl in ctx.placements:
        for host in pl.hosts:
            mine = set(pl.stop_units(host))
            shared = {
                o.service.name: mine & set(o.start_units(host))
                for o in ctx.placements
                if o is not pl and o.runs_on(host)
            }
            others = [name for name, units in shared.items() if units]
            if others:
                units = ", ".join(sorted(set().union(*shared.values())))
                key = (pl.service.name, units, ", ".join(others))
                found.setdefault(key, []).append(host.name)
    return [
        f"{svc} on {', '.join(compress(hosts))}: stopping {units} also stops {others} (same unit)"
        for (svc, units, others), hosts in found.items()
    ]
