"""What every step builder needs to know, resolved once per plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from stackstep.model.catalog import Component, Release, Series, Service
from stackstep.model.facts import Facts, HostFacts
from stackstep.model.inventory import Host, Inventory
from stackstep.planner.options import PlanOptions

TIMEOUTS = {
    "preflight": 120,
    "enable-repo": 600,
    "prefetch-packages": 1800,
    "stop-units": 300,
    "hook": 900,
    "upgrade-packages": 1800,
    "upgrade-check": 600,
    "backup-db": 3600,
    "migrate-db": 3600,
    "start-units": 300,
    "verify": 300,
    "collect-configs": 120,
    "full-upgrade": 3600,
    "restart-units": 300,
    "reboot-check": 120,
    "drain": 120,
    "lb-wait": 600,
}


@dataclass(frozen=True)
class Placement:
    """Where one service runs: its hosts (inventory order) and the migration host."""

    service: Service
    hosts: tuple[HostFacts, ...]
    migrate_host: HostFacts | None

    @cached_property
    def host_names(self) -> frozenset[str]:
        return frozenset(h.name for h in self.hosts)

    # The answers below depend only on a host's components, family and units, which most
    # hosts share: each is worked out once per distinct value, not once per host.
    @cached_property
    def _components(self) -> dict[tuple[str, ...], tuple[Component, ...]]:
        return {}

    @cached_property
    def _units(self) -> dict[tuple[object, ...], tuple[str, ...]]:
        return {}

    def runs_on(self, host: HostFacts) -> bool:
        return host.name in self.host_names

    def components_on(self, host: HostFacts) -> tuple[Component, ...]:
        found = self._components.get(host.components)
        if found is None:
            keys = set(host.components)
            name = self.service.name
            found = self._components[host.components] = tuple(
                c for c in self.service.components if f"{name}:{c.name}" in keys
            )
        return found

    def stop_units(self, host: HostFacts) -> tuple[str, ...]:
        """The units to stop: the pre-upgrade names, or, where discovery found the
        post-upgrade names instead (quantum already renamed neutron), those."""
        key = ("stop", host.components, host.family, host.units)
        found = self._units.get(key)
        if found is None:
            out: list[str] = []
            for c in self.components_on(host):
                old, new = c.units_to_stop(host.family), c.units.get(host.family)
                if host.units and not set(old) & set(host.units) and set(new) & set(host.units):
                    old = tuple(u for u in new if u in host.units)
                out.extend(old)
            found = self._units[key] = _unique(out)
        return found

    def start_units(self, host: HostFacts) -> tuple[str, ...]:
        key = ("start", host.components, host.family)
        found = self._units.get(key)
        if found is None:
            found = self._units[key] = _unique(
                u for c in self.components_on(host) for u in c.units.get(host.family)
            )
        return found


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class Context:
    inventory: Inventory
    series: Series
    facts: Facts
    source: Release
    target: Release
    options: PlanOptions
    placements: tuple[Placement, ...]

    @cached_property
    def _declared(self) -> dict[str, Host]:
        return {h.name: h for h in reversed(self.inventory.hosts)}  # the first of a name wins

    def declared(self, host: str) -> Host | None:
        """The inventory's entry for ``host`` (``Inventory.host`` without a scan per host)."""
        return self._declared.get(host)

    def address(self, host: str) -> str:
        found = self.declared(host)
        return found.address if found is not None else host

    @property
    def limit(self) -> int:
        return self.options.parallel
