"""Render what discovery found, one block per host."""

from __future__ import annotations

from stackstep.model.facts import Discovered

MAX_UNITS = 40


def render_discovery(found: list[Discovered], package_globs: list[str] | None = None) -> str:
    lines: list[str] = []
    for d in found:
        if not d.reachable or (d.error and d.family is None):
            lines.append(f"{d.name} ({d.address}): UNREACHABLE: {d.error}")
            lines.append("")
            continue
        reboot = " -> REBOOT NEEDED" if d.reboot_needed else ""
        lines.append(f"{d.name} ({d.address}): {d.os}; {d.package_manager} ({d.family}); {d.init}")
        lines.append(
            f"  kernel: running {d.running_kernel or '?'}, newest installed "
            f"{d.newest_kernel or '?'}{reboot}"
        )
        units = [f"{u.name} ({_state(u.enabled, u.active)})" for u in d.units]
        shown = units[:MAX_UNITS] + (
            [f"... {len(units) - MAX_UNITS} more"] if len(units) > MAX_UNITS else []
        )
        lines.append("  units: " + (", ".join(shown) if shown else "none of OpenStack's found"))
        interesting = sorted(n for n in d.packages if _openstack_package(n))
        if interesting:
            lines.append("  packages: " + ", ".join(f"{n} {d.packages[n]}" for n in interesting))
        lines.append("")
    reachable = sum(1 for d in found if d.reachable and d.family)
    lines.append(f"{reachable} of {len(found)} host(s) read")
    return "\n".join(lines) + "\n"


def _state(enabled: bool | None, active: bool | None) -> str:
    on = {True: "enabled", False: "disabled", None: "static"}[enabled]
    run = {True: "running", False: "stopped", None: "state unknown"}[active]
    return f"{on}, {run}"


_NAMES = (
    "keystone",
    "glance",
    "nova",
    "neutron",
    "quantum",
    "cinder",
    "swift",
    "horizon",
    "dashboard",
    "placement",
    "heat",
    "openstack",
)


def _openstack_package(name: str) -> bool:
    return any(part in name for part in _NAMES)
