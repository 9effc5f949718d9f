"""systemd reads: which unit files exist and how they are enabled, and unit states.

Recorded with systemd 252 (Debian 12); the parsers also accept the two-column
``list-unit-files`` output of older systemd (RHEL 7's 219 has no VENDOR PRESET column).
``openstack_units`` and ``units_matching`` reproduce the unit selection of RDO's
``openstack-service`` script, so ``stackstep`` stops and starts what operators expect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stackstep.model.command import Command, cmd, operands

SHOW_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "MainPID",
    "ExecMainStartTimestampMonotonic",
)
OPENSTACK_PREFIXES = ("openstack-", "neutron-", "quantum-")
_CLEANUP = re.compile(r"^(neutron|quantum)-.*-cleanup$")
_ENABLED = {"enabled", "enabled-runtime"}
_DISABLED = {"disabled", "masked", "masked-runtime", "linked", "linked-runtime"}


@dataclass(frozen=True)
class UnitState:
    """One unit as ``systemctl show`` reports it."""

    name: str
    load_state: str  # loaded, not-found, masked, error, ...
    active_state: str  # active, inactive, failed, activating, deactivating, ...
    sub_state: str  # running, dead, failed, exited, ...
    enabled: bool | None  # None: static, indirect, generated, or unknown
    main_pid: int  # 0 when no main process runs
    started_monotonic_us: int  # last start of the main process; 0 if never started

    @property
    def exists(self) -> bool:
        return self.load_state != "not-found"

    @property
    def running(self) -> bool:
        return self.active_state == "active"


def list_units_command(patterns: Iterable[str]) -> Command:
    """Service unit files matching shell ``patterns``, with their enablement state.

    Exits 1 with no output when nothing matches.
    """
    args = ("list-unit-files", "--type=service", "--no-legend", "--no-pager")
    return cmd("systemctl", *args, *operands(*patterns))


def list_loaded_command(patterns: Iterable[str]) -> Command:
    """Loaded service units matching shell ``patterns``: ``UNIT LOAD ACTIVE SUB
    DESCRIPTION``, one D-Bus call (``show`` costs one per unit). A unit that is not loaded
    is not listed: it is inactive. Exits 0, with no output when nothing matches."""
    args = ("list-units", "--all", "--type=service", "--no-legend", "--no-pager", "--plain")
    return cmd("systemctl", *args, *operands(*patterns))


def show_units_command(units: Iterable[str]) -> Command:
    """State of each unit; a missing unit still gets a record (``LoadState=not-found``)."""
    names = tuple(units)
    if not names:
        # without units systemctl shows the manager's own properties instead
        raise ValueError("show_units_command needs at least one unit")
    props = ",".join(SHOW_PROPERTIES)
    return cmd("systemctl", "show", "--no-pager", "-p", props, *operands(*names))


def parse_unit_files(text: str) -> dict[str, str]:
    """``list-unit-files --no-legend`` output -> ``{unit: state}``.

    States are systemd's words: enabled, disabled, static, masked, alias, indirect, ...
    """
    units: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and "." in fields[0]:
            units[fields[0]] = fields[1]
    return units


def parse_list_units(text: str) -> dict[str, str]:
    """``list-units --no-legend`` output -> ``{unit: ActiveState}`` (active, inactive,
    failed, activating, ...). Without ``--plain`` a failed unit's line starts with a
    bullet, which is skipped."""
    units: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in ("\u25cf", "*"):
            fields = fields[1:]
        if len(fields) >= 4 and "." in fields[0]:
            units[fields[0]] = fields[2]
    return units


def enabled_state(unit_file_state: str) -> bool | None:
    if unit_file_state in _ENABLED:
        return True
    if unit_file_state in _DISABLED:
        return False
    return None


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _unit_state(props: Mapping[str, str]) -> UnitState:
    return UnitState(
        name=props.get("Id", ""),
        load_state=props.get("LoadState", ""),
        active_state=props.get("ActiveState", ""),
        sub_state=props.get("SubState", ""),
        enabled=enabled_state(props.get("UnitFileState", "")),
        main_pid=_int(props.get("MainPID", "")),
        started_monotonic_us=_int(props.get("ExecMainStartTimestampMonotonic", "")),
    )


def _records(text: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            if records[-1]:
                records.append({})
            continue
        key, sep, value = line.partition("=")
        if sep:
            records[-1][key.strip()] = value.strip()
    return [r for r in records if r]


def parse_show(text: str) -> dict[str, UnitState]:
    """``systemctl show -p ...`` output (blank-line separated records) -> ``{Id: state}``.

    Records are keyed by ``Id``: asking for an alias (``dbus-org.freedesktop.login1``)
    gives the canonical name (``systemd-logind.service``); a unit name given without a
    suffix comes back with ``.service``.
    """
    states = (_unit_state(r) for r in _records(text))
    return {s.name: s for s in states if s.name}


def units_matching(units: Iterable[str], prefix: str) -> list[str]:
    """Units whose name matches ``^(openstack-)?<prefix>``, as ``openstack-service nova``.

    ``units`` is any collection of names: the ``parse_unit_files`` mapping or, to act
    like the script, the list ``openstack_units`` returned.
    """
    pattern = re.compile(rf"^(openstack-)?{re.escape(prefix)}")
    return sorted(u for u in units if pattern.match(u))


def is_openstack_unit(unit: str) -> bool:
    base = unit.removesuffix(".service")
    return base.startswith(OPENSTACK_PREFIXES) and not _CLEANUP.match(base)


def openstack_units(
    unit_files: Mapping[str, str], extra_hosted: Iterable[str] = ("httpd", "apache2")
) -> list[str]:
    """Enabled OpenStack services, the set ``openstack-service`` acts on.

    Enabled units named ``openstack-*``, ``neutron-*`` or ``quantum-*``, except the
    ``*-cleanup`` ones that run only at boot, plus the web servers hosting WSGI APIs
    (``httpd``, ``apache2``) when enabled. Like the script, "enabled" means exactly
    that state (not ``enabled-runtime``, ``static`` or ``indirect``).
    """
    extras = {f"{name}.service" for name in extra_hosted}
    chosen = [
        unit
        for unit, state in unit_files.items()
        if state == "enabled" and (is_openstack_unit(unit) or unit in extras)
    ]
    return sorted(chosen)
