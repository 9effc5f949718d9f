"""dpkg and apt reads: installed versions and pending upgrades.

``dpkg-query -W -f`` prints one tab-separated line per package that dpkg knows of,
installed or not: ``${db:Status-Abbrev}`` is three letters (desired, status, error),
``ii `` for installed, ``rc `` for removed with its configuration kept, ``un `` for
a package only known by name. ``apt-get -s dist-upgrade`` simulates and prints one
``Inst name [installed] (candidate origin [arch])`` line per package it would install.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stackstep.drivers.versions import Package, Upgrade
from stackstep.model.command import Command, cmd, operands

QUERY_FORMAT = r"${Package}\t${Version}\t${db:Status-Abbrev}\n"
_C = (("LC_ALL", "C"),)
_INST = re.compile(
    r"^Inst (?P<name>\S+) (?:\[(?P<current>[^\]]*)\] )?"
    r"\((?P<version>\S+) (?P<origin>.*?) ?\[(?P<arch>[^\]]+)\]\)"
)
_UPGRADABLE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<origin>\S+) (?P<version>\S+) (?P<arch>\S+)"
    r" \[upgradable from: (?P<current>[^\]]+)\]"
)


def dpkg_query_command(globs: Iterable[str]) -> Command:
    """Packages matching the shell ``globs``; exits 1 when a glob matches nothing."""
    return cmd("dpkg-query", "-W", f"-f={QUERY_FORMAT}", *operands(*globs))


def simulate_upgrade_command() -> Command:
    """What ``dist-upgrade`` would do, without doing it (no root needed)."""
    return Command(("apt-get", "-s", "dist-upgrade"), _C)


def list_upgradable_command() -> Command:
    """``apt list --upgradable`` (apt warns on stderr that its CLI is not stable)."""
    return Command(("apt", "list", "--upgradable"), _C)


def _installed(line: str) -> Package | None:
    fields = line.split("\t")
    if len(fields) < 3 or len(fields[2]) < 2 or fields[2][1] != "i":
        return None  # "rc " removed, "un " unknown: not installed
    return Package(fields[0], fields[1])


def parse_dpkg_query(text: str) -> dict[str, Package]:
    """``{name: package}`` for installed packages (status ``i``: ``ii``, held ``hi``)."""
    found = (_installed(line) for line in text.splitlines())
    return {p.name: p for p in found if p is not None}


def parse_apt_simulate(text: str) -> list[Upgrade]:
    """``Inst`` lines of ``apt-get -s`` -> upgrades; ``current`` is None for a new package
    (a new kernel ABI such as ``linux-image-6.1.0-28-amd64``)."""
    upgrades = []
    for line in text.splitlines():
        found = _INST.match(line)
        if found:
            upgrades.append(
                Upgrade(
                    name=found["name"],
                    version=found["version"],
                    arch=found["arch"],
                    current=found["current"],
                    origin=found["origin"],
                )
            )
    return upgrades


def parse_apt_list_upgradable(text: str) -> list[Upgrade]:
    """``name/suite version arch [upgradable from: old]`` lines -> upgrades."""
    upgrades = []
    for line in text.splitlines():
        found = _UPGRADABLE.match(line)
        if found:
            upgrades.append(
                Upgrade(
                    name=found["name"],
                    version=found["version"],
                    arch=found["arch"],
                    current=found["current"],
                    origin=found["origin"],
                )
            )
    return upgrades
