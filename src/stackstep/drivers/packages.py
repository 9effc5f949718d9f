"""Package managers: yum, dnf and apt, non-interactive and keeping local config files.

yum/dnf keep an edited ``%config(noreplace)`` file and write ``.rpmnew`` on their own;
apt is told ``--force-confdef --force-confold`` so that it keeps edited conffiles and
writes ``.dpkg-dist`` instead of asking.
"""

from __future__ import annotations

from stackstep.model.command import Command, cmd
from stackstep.model.inventory import PackageManager

_APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
_APT_KEEP = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")


def _apt(*args: str) -> Command:
    return Command(("apt-get", "-y", *_APT_KEEP, *args), _APT_ENV)


def upgrade(pm: PackageManager, globs: tuple[str, ...]) -> tuple[Command, ...]:
    """Upgrade the installed packages matching ``globs`` (never install new ones)."""
    if pm == "apt":
        return (_apt("install", "--only-upgrade", *globs),)
    return (cmd(pm, "-y", "upgrade", *globs),)


def download(pm: PackageManager) -> tuple[Command, ...]:
    """Fetch every pending upgrade into the cache without installing: less downtime later."""
    if pm == "apt":
        return (Command(("apt-get", "-y", "--download-only", "dist-upgrade"), _APT_ENV),)
    return (cmd(pm, "-y", "upgrade", "--downloadonly"),)


def full_upgrade(pm: PackageManager) -> tuple[Command, ...]:
    if pm == "apt":
        return (_apt("dist-upgrade"),)
    return (cmd(pm, "-y", "upgrade"),)


def refresh(pm: PackageManager) -> tuple[Command, ...]:
    """Re-read repository metadata after a repository was added."""
    if pm == "apt":
        return (Command(("apt-get", "update"), _APT_ENV),)
    return (cmd(pm, "-y", "makecache"),)
