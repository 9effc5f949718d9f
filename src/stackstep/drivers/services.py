"""Service managers: systemd (one systemctl call for many units) and SysV (one each).

Units come after ``--`` for systemctl; SysV ``service`` has no ``--`` (and Debian's and
RHEL 7's hand ``-H...`` on to systemctl), so a unit named like an option is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def parse_active(checks: Iterable[tuple[Command, int, str]]) -> dict[str, bool]:
    """Unit -> running?, from :func:`is_active`'s commands and what each gave back (exit
    status, stdout). ``systemctl is-active -- U...`` prints one state per unit (a count
    that does not match says nothing: all down); ``service U status`` exits 0 when U runs."""
    found: dict[str, bool] = {}
    for command, exit_status, stdout in checks:
        argv = [str(t) for t in command.argv]
        if argv[:2] == ["systemctl", "is-active"]:
            units = argv[3:] if argv[2:3] == ["--"] else argv[2:]
            states = stdout.split()
            if len(states) != len(units):
                states = [""] * len(units)
            found.update((u, state == "active") for u, state in zip(units, states, strict=True))
        elif argv[:1] == ["service"] and argv[2:] == ["status"]:
            found[argv[1]] = exit_status == 0
    return found
