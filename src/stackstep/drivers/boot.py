"""Rebooting a host: its boot id, the reboot itself, a reboot scheduled for later.

A host has rebooted when ``/proc/sys/kernel/random/boot_id`` (a new random id at every
boot) differs from the one read before; uptime is never used (a quick boot, a clock step
or a container's uptime fool it).
"""

from __future__ import annotations

import re

from stackstep.model.command import Command, cmd
from stackstep.model.inventory import InitSystem

BOOT_ID = "/proc/sys/kernel/random/boot_id"
SCHEDULE_MESSAGE = "stackstep: new kernel"
_AT = re.compile(r"^(\d{1,2}):(\d{2})$")
_BOOT_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def boot_id_command() -> Command:
    return cmd("cat", BOOT_ID)


def parse_boot_id(text: str) -> str | None:
    """The id ``cat`` printed (``4d1c...-...``), or None when it is not one."""
    value = text.strip().lower()
    return value if _BOOT_ID.match(value) else None


def reboot_command(init: InitSystem) -> Command:
    """Reboot now. The connection that runs it usually drops: expected, not a failure."""
    return cmd("systemctl", "reboot") if init == "systemd" else cmd("shutdown", "-r", "now")


def parse_at(text: str) -> str:
    """``--at`` as ``shutdown`` takes it: ``2:00`` -> ``02:00``; ValueError when not a time
    of day (HH:MM, 24-hour clock, the host's local time)."""
    found = _AT.match(text.strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ValueError(f"{text!r} is not a time of day HH:MM (24-hour clock, e.g. 02:00)")
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def schedule_command(at: str) -> Command:
    """``shutdown -r HH:MM "stackstep: new kernel"``; ``shutdown -c`` cancels it."""
    return cmd("shutdown", "-r", at, SCHEDULE_MESSAGE)


def cancel_command() -> Command:
    return cmd("shutdown", "-c")


def hostname_command() -> Command:
    return cmd("hostname")
