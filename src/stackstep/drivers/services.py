"""Service managers: systemd (one systemctl call for many units) and SysV (one each).

Units come after ``--`` for systemctl; SysV ``service`` has no ``--`` (and Debian's and
RHEL 7's hand ``-H...`` on to systemctl), so a unit named like an option is refused.
"""

from __future__ import annotations

from stackstep.model.command import Command, cmd, not_option, operands
from stackstep.model.inventory import InitSystem


def unit_action(init: InitSystem, action: str, units: tuple[str, ...]) -> tuple[Command, ...]:
    """``stop``/``start``/``restart`` the units, the way ``openstack-service`` does it."""
    if not units:
        return ()
    if init == "systemd":
        return (cmd("systemctl", action, *operands(*units)),)
    return tuple(cmd("service", not_option(unit, "unit"), action) for unit in units)


def is_active(init: InitSystem, units: tuple[str, ...]) -> tuple[Command, ...]:
    if init == "systemd":
        return (cmd("systemctl", "is-active", *operands(*units)),) if units else ()
    return tuple(cmd("service", not_option(unit, "unit"), "status") for unit in units)
