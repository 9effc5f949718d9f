"""Turn a parsed Ansible inventory into a stackstep inventory.

Connection variables map one to one (docs/inventory.md#ansible):
``ansible_host`` -> address, ``ansible_port`` -> port, ``ansible_user`` -> user,
``ansible_ssh_private_key_file`` -> identity_file, ``ansible_become`` -> become.
Groups become roles through ``group_map`` (built by the caller from the catalog: every
role and service name maps to itself, then the catalog's ``[ansible_groups]`` table,
then the inventory's ``group_roles``); a ``stackstep_roles`` variable (comma list) adds
roles. Other groups are ignored and listed in ``Inventory.notes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from stackstep.errors import Problem
from stackstep.inventory.ansible import AnsibleHost, AnsibleInventory
from stackstep.model import names
from stackstep.model.inventory import PACKAGE_MANAGERS, Host, Inventory, PackageManager

_TRUE = ("true", "yes", "1", "on")


def inventory_from_ansible(
    parsed: AnsibleInventory, source: str, group_map: Mapping[str, tuple[str, ...]], name: str
) -> Inventory:
    ignored: set[str] = set()
    hosts = tuple(_host(h, group_map, ignored) for h in parsed.hosts)
    notes = tuple(
        f"Ansible group {g!r} maps to no stackstep role or service: ignored"
        for g in sorted(ignored)
    )
    return Inventory(name=name, source=source, hosts=hosts, notes=notes)


_CHECKS: tuple[tuple[str, names.Check, str], ...] = (
    ("ansible_host", names.address, "it must be an IP address or a DNS name"),
    ("ansible_user", names.user, "it must be a user name"),
    ("ansible_ssh_private_key_file", names.plain_text, "give a file name"),
)


def ansible_problems(parsed: AnsibleInventory, source: str) -> list[Problem]:
    """What stackstep refuses in the hosts' variables (file, line, host.variable)."""
    problems: list[Problem] = []
    for host in parsed.hosts:
        found: list[tuple[str | None, str, str]] = []
        bad = names.host_name(host.name)
        if bad is not None:
            found.append((None, f"host name {host.name!r} {bad}", "use letters, digits, . _ -"))
        for var, check, hint in _CHECKS:
            value = host.vars.get(var)
            bad = None if value is None else check(str(value))
            if bad is not None:
                found.append((var, f"{var} {str(value)!r} {bad}", hint))
        port = host.vars.get("ansible_port")
        if port is not None and _int(port, 0) not in range(1, 65536):
            found.append(("ansible_port", f"ansible_port {port!r} is not a port", "use 1..65535"))
        pm = host.vars.get("stackstep_package_manager")
        if pm is not None and pm not in PACKAGE_MANAGERS:
            hint = "one of: " + ", ".join(PACKAGE_MANAGERS)
            found.append(("stackstep_package_manager", f"{pm!r} is not allowed", hint))
        problems.extend(
            Problem(message, source, host.line, f"{host.name}.{var}" if var else host.name, hint)
            for var, message, hint in found
        )
    return problems


def _host(host: AnsibleHost, group_map: Mapping[str, tuple[str, ...]], ignored: set[str]) -> Host:
    roles: list[str] = []
    for group in host.groups:
        mapped = group_map.get(group, ())
        if not mapped:
            ignored.add(group)
        roles.extend(r for r in mapped if r not in roles)
    extra = str(host.vars.get("stackstep_roles", ""))
    roles.extend(r.strip() for r in extra.split(",") if r.strip() and r.strip() not in roles)
    pm = cast("PackageManager | None", str(host.vars.get("stackstep_package_manager", "")) or None)
    return Host(
        name=host.name,
        address=str(host.vars.get("ansible_host", host.name)),
        port=_int(host.vars.get("ansible_port"), 22),
        user=str(host.vars.get("ansible_user", "root")),
        identity_file=_opt(host.vars.get("ansible_ssh_private_key_file")),
        become=str(host.vars.get("ansible_become", "")).lower() in _TRUE,
        package_manager=pm if pm in PACKAGE_MANAGERS else None,
        roles=tuple(roles),
        groups=host.groups,
        line=host.line,
    )


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value is not None else default
    except ValueError:
        return default


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
