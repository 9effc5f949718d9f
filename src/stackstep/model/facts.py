"""Facts about hosts: what discovery reads, or what the inventory declares (``source``).

The planner takes facts as input so that planning stays pure: the same inventory,
catalog, facts and options always give the same plan (and the same plan hash).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stackstep.model.catalog import Family
from stackstep.model.inventory import InitSystem, PackageManager

FactsSource = Literal["inventory", "discovery"]


@dataclass(frozen=True)
class HostFacts:
    name: str
    family: Family
    package_manager: PackageManager
    init: InitSystem
    components: tuple[str, ...]  # "service:component" present on the host, e.g. nova:compute
    versions: Mapping[str, str] = field(default_factory=dict)
    units: tuple[str, ...] = ()  # service units found on the host (discovery); () = unknown

    def runs(self, service: str) -> bool:
        return any(c.split(":", 1)[0] == service for c in self.components)


@dataclass(frozen=True)
class Facts:
    hosts: tuple[HostFacts, ...]
    source: FactsSource = "inventory"

    def host(self, name: str) -> HostFacts | None:
        return next((h for h in self.hosts if h.name == name), None)


def facts_to_json(facts: Facts) -> dict[str, object]:
    return {
        "source": facts.source,
        "hosts": [
            {
                "name": h.name,
                "family": h.family,
                "package_manager": h.package_manager,
                "init": h.init,
                "components": list(h.components),
                "versions": dict(h.versions),
            }
            for h in facts.hosts
        ],
    }


def facts_from_json(data: dict[str, object]) -> Facts:
    hosts = data.get("hosts")
    out = []
    for h in hosts if isinstance(hosts, list) else []:
        out.append(
            HostFacts(
                str(h["name"]),
                h["family"],
                h["package_manager"],
                h["init"],
                tuple(h["components"]),
                dict(h.get("versions", {})),
            )
        )
    source: FactsSource = "discovery" if data.get("source") == "discovery" else "inventory"
    return Facts(tuple(out), source)


@dataclass(frozen=True)
class UnitInfo:
    name: str  # without ".service"
    enabled: bool | None
    active: bool | None


@dataclass(frozen=True)
class Discovered:
    """What discovery read from one host (read-only; see stackstep.discovery)."""

    name: str
    address: str
    reachable: bool
    error: str | None = None
    os: str = ""
    family: Family | None = None
    package_manager: PackageManager | None = None
    init: InitSystem | None = None
    units: tuple[UnitInfo, ...] = ()
    packages: Mapping[str, str] = field(default_factory=dict)
    running_kernel: str | None = None
    newest_kernel: str | None = None
    reboot_needed: bool | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "reachable": self.reachable,
            "error": self.error,
            "os": self.os,
            "family": self.family,
            "package_manager": self.package_manager,
            "init": self.init,
            "units": [
                {"name": u.name, "enabled": u.enabled, "active": u.active} for u in self.units
            ],
            "packages": dict(self.packages),
            "running_kernel": self.running_kernel,
            "newest_kernel": self.newest_kernel,
            "reboot_needed": self.reboot_needed,
        }
