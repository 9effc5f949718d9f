"""Package managers: yum, dnf and apt, non-interactive and keeping local config files.

yum/dnf keep an edited ``%config(noreplace)`` file and write ``.rpmnew`` on their own;
apt is told ``--force-confdef --force-confold`` so that it keeps edited conffiles and
writes ``.dpkg-dist`` instead of asking. A rollback downgrades with ``yum/dnf -y downgrade
NAME-VERSION...`` or ``apt-get install --allow-downgrades NAME=VERSION...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatch

from stackstep.drivers.dpkg import dpkg_query_command, parse_dpkg_query
from stackstep.drivers.rpm import parse_rpm_qa, rpm_qa_command
from stackstep.model.command import Command, cmd, operands
from stackstep.model.inventory import PackageManager

_APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
_APT_KEEP = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")


def _apt(*args: str) -> Command:
    return Command(("apt-get", "-y", *_APT_KEEP, *args), _APT_ENV)


def upgrade(
    pm: PackageManager, globs: tuple[str, ...], cached: bool = False
) -> tuple[Command, ...]:
    """Upgrade the installed packages matching ``globs`` (never install new ones).

    ``cached``: the packages were downloaded ahead (:func:`download`), so yum/dnf run
    from the cache (``-C``): no repository metadata is fetched inside the outage (a repo
    with ``metadata_expire=0`` would refetch it on every call). apt never refreshes its
    lists on ``install`` and takes downloaded packages from its cache anyway.
    """
    if pm == "apt":
        return (_apt("install", "--only-upgrade", *operands(*globs)),)
    return (cmd(pm, "-y", *(("-C",) if cached else ()), "upgrade", *operands(*globs)),)


def uncached(command: Command) -> Command | None:
    """``command`` without yum/dnf's ``-C`` (for when the cache lacks a package: cleaned
    since the prefetch); None when it had none."""
    argv = command.argv
    if argv[:1] not in (("yum",), ("dnf",)) or argv[2:3] != ("-C",):
        return None
    return Command(argv[:2] + argv[3:], command.env)


def download(pm: PackageManager) -> tuple[Command, ...]:
    """Fetch every pending upgrade into the cache without installing: less downtime later."""
    if pm == "apt":
        return (Command(("apt-get", "-y", "--download-only", "dist-upgrade"), _APT_ENV),)
    return (cmd(pm, "-y", "upgrade", "--downloadonly"),)


def full_upgrade(pm: PackageManager, cached: bool = False) -> tuple[Command, ...]:
    """Every pending upgrade; ``cached`` as for :func:`upgrade`."""
    if pm == "apt":
        return (_apt("dist-upgrade"),)
    return (cmd(pm, "-y", *(("-C",) if cached else ()), "upgrade"),)


def refresh(pm: PackageManager) -> tuple[Command, ...]:
    """Re-read repository metadata after a repository was added."""
    if pm == "apt":
        return (Command(("apt-get", "update"), _APT_ENV),)
    return (cmd(pm, "-y", "makecache"),)


def downgrade(pm: PackageManager, pins: Sequence[tuple[str, str]]) -> tuple[Command, ...]:
    """Put packages back to the given versions, in one transaction.

    ``pins`` are ``(name, version)`` as the package database reported them before
    (rpm: ``[epoch:]version-release``; dpkg: the Debian version).
    """
    if not pins:
        return ()
    if pm == "apt":
        return (_apt("install", "--allow-downgrades", *operands(*(f"{n}={v}" for n, v in pins))),)
    return (cmd(pm, "-y", "downgrade", *operands(*(f"{n}-{v}" for n, v in pins))),)


def installed_command(pm: PackageManager, globs: Sequence[str]) -> Command:
    """The installed packages matching ``globs``, with their versions."""
    return dpkg_query_command(globs) if pm == "apt" else rpm_qa_command(globs)


def parse_installed(pm: PackageManager, text: str) -> dict[str, str]:
    """``installed_command``'s output -> ``{name: version}``."""
    found = parse_dpkg_query(text) if pm == "apt" else parse_rpm_qa(text)
    return {name: package.version for name, package in found.items()}


def matching(versions: Mapping[str, str], globs: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, version)`` of the packages whose name matches one of ``globs``, sorted."""
    return [(n, v) for n, v in sorted(versions.items()) if any(fnmatch(n, g) for g in globs)]


def changed_since(
    before: Mapping[str, str], now: Mapping[str, str], globs: Sequence[str]
) -> list[tuple[str, str]]:
    """``(name, version before)`` for each package matching ``globs`` whose installed
    version differs from ``before``; packages installed since, or removed since, are
    not in it (a downgrade can do nothing about them)."""
    return [(n, v) for n, v in matching(before, globs) if now.get(n, v) != v]
