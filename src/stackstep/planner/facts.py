"""Facts from the inventory alone: roles expanded to service components per host."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatch

from stackstep.errors import InventoryError, Problem
from stackstep.model.catalog import Catalog, Component, Family, Series, Service
from stackstep.model.facts import Discovered, Facts, HostFacts
from stackstep.model.inventory import Host, Inventory, PackageManager

FAMILY_OF: Mapping[PackageManager, Family] = {"yum": "rpm", "dnf": "rpm", "apt": "deb"}


def all_roles(inventory: Inventory, catalog: Catalog) -> dict[str, tuple[str, ...]]:
    return {**catalog.roles, **inventory.roles}


def facts_from_inventory(inventory: Inventory, catalog: Catalog, series: Series) -> Facts:
    roles = all_roles(inventory, catalog)
    known = catalog.service_names()
    problems: list[Problem] = []
    hosts = []
    for host in inventory.hosts:
        entries = (*host.roles, *host.services)
        problems.extend(_conflicts(inventory, catalog, host, roles))
        components: list[str] = []
        for entry in entries:
            if entry not in roles and entry not in known:
                problems.append(_unknown(inventory, host, entry, roles))
                continue
            _expand(entry, roles, series, components, set())
        pm = host.package_manager or "yum"
        hosts.append(
            HostFacts(host.name, FAMILY_OF[pm], pm, host.init or "systemd", tuple(components))
        )
    if problems:
        raise InventoryError(problems)
    return Facts(tuple(hosts), "inventory")


def undeclared(
    inventory: Inventory, catalog: Catalog, series: Series, facts: Facts
) -> list[tuple[str, tuple[str, ...]]]:
    """``(host, components)``: what a host with roles runs (per ``facts``) that none of its
    roles or services names. Expanded once per distinct roles/services list."""
    roles = all_roles(inventory, catalog)
    by_name = {h.name: h for h in inventory.hosts}
    expanded: dict[tuple[str, ...], set[str]] = {}
    out = []
    for found in facts.hosts:
        host = by_name.get(found.name)
        entries = () if host is None else (*host.roles, *host.services)
        if not entries:
            continue
        if entries not in expanded:
            keys: list[str] = []
            for entry in entries:
                _expand(entry, roles, series, keys, set())
            expanded[entries] = set(keys)
        extra = tuple(c for c in found.components if c not in expanded[entries])
        if extra:
            out.append((found.name, extra))
    return out


def _held_roles(entries: tuple[str, ...], roles: Mapping[str, tuple[str, ...]]) -> set[str]:
    held: set[str] = set()
    pending = [e for e in entries if e in roles]
    while pending:
        role = pending.pop()
        if role not in held:
            held.add(role)
            pending.extend(e for e in roles[role] if e in roles)
    return held


def _conflicts(
    inventory: Inventory, catalog: Catalog, host: Host, roles: Mapping[str, tuple[str, ...]]
) -> list[Problem]:
    held = _held_roles(host.roles, roles)
    return [
        Problem(
            f"host {host.name!r} has conflicting roles " + " and ".join(c.roles),
            inventory.source,
            host.line,
            f"hosts.{host.name}",
            c.reason,
        )
        for c in catalog.conflicts
        if all(r in held for r in c.roles)
    ]


def _unknown(inventory: Inventory, host: Host, entry: str, roles: Mapping[str, object]) -> Problem:
    return Problem(
        f"host {host.name!r}: {entry!r} is neither a role nor a service",
        inventory.source,
        host.line,
        f"hosts.{host.name}",
        "roles: " + ", ".join(sorted(roles)) + "; see `stackstep catalog` for services",
    )


def _expand(
    entry: str, roles: Mapping[str, tuple[str, ...]], series: Series, out: list[str], seen: set[str]
) -> None:
    if entry in roles:
        if entry in seen:
            return
        seen.add(entry)
        for sub in roles[entry]:
            _expand(sub, roles, series, out, seen)
        return
    name, _, part = entry.partition(":")
    service = series.service(name)
    if service is None:
        return  # a service this series does not have (placement in 2013)
    for component in service.components:
        key = f"{service.name}:{component.name}"
        if (not part or part == component.name) and key not in out:
            out.append(key)


def _present(
    component: Component,
    service: Service,
    family: Family,
    units: set[str],
    packages: Mapping[str, str],
) -> bool:
    """Is this component installed on the host, judging by units and packages?"""
    names = {*component.units.get(family), *component.units_to_stop(family)}
    if not component.httpd and names & units:
        return True
    if component.httpd:
        globs = service.packages.get(family)
        return any(fnmatch(p, g) for p in packages for g in globs) and bool(names & units)
    return False


def facts_from_discovery(
    inventory: Inventory, catalog: Catalog, series: Series, found: list[Discovered]
) -> Facts:
    """The components really there: declared ones first, then any other found in use
    (a service a host runs but no role of it names is planned there too: its packages
    would otherwise be upgraded with no stop, start or verify; the plan warns).

    A service not installed on a host is not planned there. Units found are kept so the
    planner stops what runs (quantum-* before the rename, neutron-* after).
    """
    declared = facts_from_inventory(inventory, catalog, series)
    by_name = {d.name: d for d in found}
    hosts = []
    for facts, host in zip(declared.hosts, inventory.hosts, strict=True):
        seen = by_name.get(host.name)
        if seen is None or not seen.reachable or seen.family is None:
            hosts.append(facts)
            continue
        units = {u.name for u in seen.units if u.enabled or u.active}  # installed and in use
        every = (f"{s.name}:{c.name}" for s in series.services for c in s.components)
        wanted = tuple(dict.fromkeys((*facts.components, *every)))
        present = tuple(
            key for key in wanted if _present_key(key, series, seen.family, units, seen.packages)
        )
        hosts.append(
            HostFacts(
                host.name,
                seen.family,
                seen.package_manager or facts.package_manager,
                seen.init or facts.init,
                present,
                dict(seen.packages),
                tuple(sorted(units)),
            )
        )
    return Facts(tuple(hosts), "discovery")


def _present_key(
    key: str, series: Series, family: Family, units: set[str], packages: Mapping[str, str]
) -> bool:
    name, _, part = key.partition(":")
    service = series.service(name)
    component = service.component(part) if service else None
    return bool(service and component and _present(component, service, family, units, packages))
