"""Service managers: systemd (one systemctl call for many units) and SysV (one each)."""

from __future__ import annotations

from stackstep.model.command import Command, cmd
from stackstep.model.inventory import InitSystem


def unit_action(init: InitSystem, action: str, units: tuple[str, ...]) -> tuple[Command, ...]:
    """``stop``/``start``/``restart`` the units, the way ``openstack-service`` does it."""
    if not units:
        return ()
    if init == "systemd":
        return (cmd("systemctl", action, *units),)
    return tuple(cmd("service", unit, action) for unit in units)


def is_active(init: InitSystem, units: tuple[str, ...]) -> tuple[Command, ...]:
    if init == "systemd":
        return (cmd("systemctl", "is-active", *units),) if units else ()
    return tuple(cmd("service", unit, "status") for unit in units)
