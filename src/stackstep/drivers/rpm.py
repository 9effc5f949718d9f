"""rpm, yum and dnf reads: installed versions and pending upgrades.

``rpm -qa --qf`` prints one tab-separated line per installed package; ``%{EPOCH}`` is
``(none)`` for packages without an epoch (``%{EPOCHNUM}`` would say 0, but rpm 4.8 on
RHEL 6 does not know that tag). ``yum``/``dnf check-update`` exits 100 when upgrades
are pending, 0 when there are none and 1 on error.
"""

from __future__ import annotations

from collections.abc import Iterable

from stackstep.drivers.versions import Package, Upgrade, rpm_evr_key
from stackstep.model.command import Command, cmd, operands
from stackstep.model.inventory import PackageManager

QUERY_FORMAT = r"%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n"
CHECK_UPDATE_PENDING = 100
_SECTION_HEADERS = ("Obsoleting Packages", "Available Upgrades", "Updated Packages")


def rpm_qa_command(globs: Iterable[str]) -> Command:
    """Installed packages matching the shell ``globs`` (all packages when none)."""
    return cmd("rpm", "-qa", "--qf", QUERY_FORMAT, *operands(*globs))


def check_update_command(pm: PackageManager, globs: Iterable[str] = ()) -> Command:
    """``yum``/``dnf -q check-update``: exit 100 means upgrades are pending."""
    return cmd(pm, "-q", "check-update", *operands(*globs))


def list_upgrades_command(pm: PackageManager) -> Command:
    """``dnf list --upgrades`` (``yum list updates`` on yum)."""
    return cmd(pm, "-q", "list", "--upgrades" if pm == "dnf" else "updates")


def upgrades_pending(exit_status: int) -> bool | None:
    """From ``check-update``'s exit status: True, False, or None (it failed)."""
    return {CHECK_UPDATE_PENDING: True, 0: False}.get(exit_status)


def _package(line: str) -> Package | None:
    fields = line.split("\t")
    if len(fields) != 4 or not fields[0]:
        return None
    name, evr, arch, installed = fields
    evr = evr.removeprefix("(none):")
    return Package(name, evr, arch, int(installed) if installed.isdigit() else None)


def parse_rpm_qa_list(text: str) -> list[Package]:
    """Every line of ``rpm -qa --qf QUERY_FORMAT``, in rpm's order (kernels repeat)."""
    found = (_package(line) for line in text.splitlines())
    return [p for p in found if p is not None]


def parse_rpm_qa(text: str) -> dict[str, Package]:
    """``{name: package}``; for a name installed several times (kernels), the newest."""
    newest: dict[str, Package] = {}
    for pkg in parse_rpm_qa_list(text):
        old = newest.get(pkg.name)
        if old is None or rpm_evr_key(pkg.version) > rpm_evr_key(old.version):
            newest[pkg.name] = pkg
    return newest


def _joined_lines(text: str) -> list[str]:
    """Undo yum's wrapping: a long ``name.arch`` stands alone, its columns on the next line."""
    lines: list[str] = []
    carry = ""
    for raw in text.splitlines():
        line = f"{carry} {raw.strip()}" if carry else raw
        carry = ""
        if len(line.split()) == 1 and "." in line and not line.startswith(" "):
            carry = line.strip()
            continue
        lines.append(line)
    return lines


def _upgrade(fields: list[str], replaces: str | None) -> Upgrade:
    name, _, arch = fields[0].rpartition(".")
    return Upgrade(name, fields[1], arch, origin=fields[2], replaces=replaces)


def _replaced(lines: list[str], index: int) -> str | None:
    """The indented ``old.arch version @System`` line after an obsoleting package."""
    following = lines[index + 1] if index + 1 < len(lines) else ""
    if not following[:1].isspace() or not following.split():
        return None
    return following.split()[0].rpartition(".")[0] or None


def parse_check_update(text: str) -> list[Upgrade]:
    """``check-update`` or ``list --upgrades`` output -> the upgrades it lists.

    Packages under "Obsoleting Packages" replace another one: the indented line after
    each names the installed package it obsoletes (``replaces``). A package listed in
    both sections appears once.
    """
    found: dict[tuple[str, str], Upgrade] = {}
    lines = _joined_lines(text)
    obsoleting = False
    for index, line in enumerate(lines):
        fields = line.split()
        if line.startswith(_SECTION_HEADERS):
            obsoleting = line.startswith("Obsoleting")
        elif len(fields) == 3 and "." in fields[0] and not line[0].isspace():
            upgrade = _upgrade(fields, _replaced(lines, index) if obsoleting else None)
            key = (upgrade.name, upgrade.arch)
            if key not in found or upgrade.replaces:
                found[key] = upgrade
    return list(found.values())
