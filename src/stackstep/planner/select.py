"""Resolve releases and series; select, order and place the services."""

from __future__ import annotations

import difflib

from stackstep.errors import InventoryError, PlanError, Problem
from stackstep.model.catalog import Catalog, Release, Series, Service
from stackstep.model.facts import Facts, HostFacts
from stackstep.model.inventory import Host, Inventory
from stackstep.planner.context import Placement
from stackstep.planner.options import PlanOptions


def resolve_releases(
    catalog: Catalog, inventory: Inventory, options: PlanOptions
) -> tuple[Release, Release]:
    src_name = options.from_release or inventory.release
    if src_name is None:
        raise PlanError(
            "which release does the cloud run now?",
            hint="pass --from RELEASE or set `release:` in the inventory",
        )
    src = _release(catalog, src_name, "--from" if options.from_release else "release", inventory)
    dst_name = options.to_release or inventory.target
    if dst_name is None:
        nxt = catalog.next_release(src)
        if nxt is None:
            raise PlanError(f"{src.label} is the newest release the catalog knows")
        return src, nxt
    dst = _release(catalog, dst_name, "--to" if options.to_release else "target", inventory)
    if not catalog.is_path(src, dst):
        raise PlanError(
            f"{src.label} -> {dst.label} is not an upgrade path",
            hint=describe_targets(catalog, src),
        )
    return src, dst


def _release(catalog: Catalog, name: str, option: str, inventory: Inventory) -> Release:
    """The release ``name`` names; unknown: the option's error, or the inventory key's
    (file, line, key) when the name came from the inventory."""
    found = catalog.release(name)
    if found is None:
        known = ", ".join(r.name for r in catalog.releases)
        close = difflib.get_close_matches(name, [r.name for r in catalog.releases], n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"known: {known}"
        if option.startswith("--"):
            raise PlanError(f"{option}: unknown release {name!r}", hint=hint)
        line = inventory.lines.get(option) or None
        message = f"unknown release {name!r}"
        raise InventoryError([Problem(message, inventory.source, line, option, hint)])
    return found


def resolve_series(catalog: Catalog, src: Release, dst: Release) -> Series:
    series = catalog.series_for(src, dst)
    if series is None:
        covered = "; ".join(f"{s.name}: {', '.join(s.releases)}" for s in catalog.series)
        raise PlanError(
            f"the catalog has no service data for {src.label} -> {dst.label}",
            hint=f"add a series in a --catalog file (docs/catalog.md); covered: {covered}",
        )
    return series


def order_services(series: Series, options: PlanOptions) -> tuple[Service, ...]:
    """Catalog order, then ``after`` constraints (stable topological sort)."""
    for name in (*options.only, *options.skip):
        if series.service(name) is None:
            known = ", ".join(s.name for s in series.services)
            raise PlanError(f"unknown service {name!r} for {series.title}", hint=f"known: {known}")
    wanted = [
        s
        for s in series.services
        if (not options.only or any(n in options.only for n in s.names))
        and not any(n in options.skip for n in s.names)
    ]
    names = {s.name for s in wanted}
    done: list[Service] = []
    pending = list(wanted)
    while pending:
        ready = next(
            (
                s
                for s in pending
                if all(d not in names or d in {x.name for x in done} for d in s.after)
            ),
            None,
        )
        if ready is None:
            cycle = " -> ".join(s.name for s in pending)
            raise PlanError(
                f"services' ordering constraints form a cycle among: {cycle}",
                hint="fix the `after` lists in your catalog file",
            )
        done.append(ready)
        pending.remove(ready)
    return tuple(done)


def place(service: Service, facts: Facts, inventory: Inventory) -> Placement:
    hosts = tuple(h for h in facts.hosts if h.runs(service.name))
    return Placement(service, hosts, _migrate_host(service, inventory, hosts) if hosts else None)


def describe_targets(catalog: Catalog, src: Release) -> str:
    targets = catalog.targets(src)
    if not targets:
        return f"{src.label} is the newest release the catalog knows"
    return f"from {src.name} you can go to " + " or ".join(t.label for t in targets)


def _needs_migrate_host(service: Service) -> bool:
    hooks = (*service.pre_upgrade, *service.post_upgrade, *service.post_start)
    return bool(
        service.migrate or service.database or any(h.where == "migrate-host" for h in hooks)
    )


def _where(host: Host) -> str:
    return f"{host.name} (line {host.line})" if host.line else host.name


def _migrate_host(
    service: Service, inventory: Inventory, hosts: tuple[HostFacts, ...]
) -> HostFacts | None:
    if not _needs_migrate_host(service):
        return None
    by_name = {h.name: h for h in hosts}
    designated = [h for h in inventory.hosts if any(n in h.migrate for n in service.names)]
    if len(designated) > 1:
        raise PlanError(
            f"{service.name}: its migration is assigned to several hosts: "
            + ", ".join(_where(h) for h in designated),
            hint=f"keep `migrate: [{service.name}]` on one host",
        )
    if designated:
        chosen = by_name.get(designated[0].name)
        if chosen is None:
            raise PlanError(
                f"{_where(designated[0])} is to run {service.name}'s migration "
                f"but does not run {service.name}",
                hint=f"give it a role with {service.name}, or move `migrate:`",
            )
        return chosen
    component = service.migrate_on
    for host in hosts:
        if component is None or f"{service.name}:{component}" in host.components:
            return host
    raise PlanError(
        f"{service.name}: no host runs {service.name}:{component}, where its "
        "database migration runs",
        hint=f"give a host the controller role or {service.name}:{component}, "
        f"or set `migrate: [{service.name}]` on one of its hosts",
    )
