"""Facts from the inventory alone: roles expanded to service components per host."""

from __future__ import annotations

from collections.abc import Mapping

from stackstep.errors import InventoryError, Problem
from stackstep.model.catalog import Catalog, Family, Series
from stackstep.model.facts import Facts, HostFacts
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
