"""Installed kernels and whether the host must reboot into a newer one.

Kernel releases are compared as ``uname -r`` prints them: ``5.14.0-362.el9.x86_64``
(RHEL), ``6.1.0-26-amd64`` (Debian), ``5.15.0-91-generic`` (Ubuntu), with rpm's
version rules, which order both styles correctly (``362`` after ``70.13.1``,
``26`` after ``9``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stackstep.drivers.versions import RpmKey, rpm_version_key
from stackstep.model.catalog import Family
from stackstep.model.command import Command, cmd

_FLAVOUR = re.compile(r"^\d+(?:\.\d+)*-[\d.]+-([a-z][a-z0-9-]*)$")  # 6.1.0-26-cloud-amd64
_VMLINUZ = "vmlinuz-"


def running_command() -> Command:
    return cmd("uname", "-r")


def rpm_kernels_command() -> Command:
    """Installed ``kernel`` packages, newest install first (exits 1 when none)."""
    return Command(("rpm", "-q", "--last", "kernel"), (("LC_ALL", "C"),))


def boot_listing_command() -> Command:
    return cmd("ls", "/boot")


def reboot_check(family: Family) -> tuple[Command, ...]:
    """Running kernel vs newest installed one, plus the distribution's own flag (the
    reboot-check step's commands: :func:`parse_rpm_last` or :func:`parse_boot_listing`
    reads the second one's output)."""
    if family == "rpm":
        return (
            cmd("uname", "-r"),
            cmd("rpm", "-q", "--last", "kernel"),
            cmd("needs-restarting", "-r"),
        )
    return (cmd("uname", "-r"), cmd("ls", "/boot"), cmd("test", "-e", "/run/reboot-required"))


def parse_rpm_last(text: str) -> list[str]:
    """``rpm -q --last kernel`` -> kernel releases (``5.14.0-362.el9.x86_64``).

    Order is rpm's (by install time, newest first), not by version.
    ``package kernel is not installed`` gives an empty list.
    """
    releases: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0].startswith("kernel-") and fields[0] != "kernel-":
            releases.append(fields[0].removeprefix("kernel-"))
    return releases


def parse_boot_listing(text: str) -> list[str]:
    """``ls /boot`` -> releases that have a ``vmlinuz-<release>`` image, rescue ones excluded.

    RHEL's ``vmlinuz-0-rescue-<machine-id>`` is not a kernel release and would
    otherwise sort anywhere.
    """
    releases = []
    for name in text.split():
        release = name.removeprefix(_VMLINUZ)
        if name.startswith(_VMLINUZ) and release and "rescue" not in release:
            releases.append(release)
    return releases


def kernel_version_key(release: str) -> RpmKey:
    """Sort key for kernel releases: ``5.14.0-362.el9`` > ``5.14.0-70.13.1.el9_0``."""
    return rpm_version_key(release.strip())


def kernel_flavour(release: str) -> str:
    """Debian/Ubuntu flavour of a release: ``amd64``, ``cloud-amd64``, ``generic``; else ""."""
    found = _FLAVOUR.match(release.strip())
    return found.group(1) if found else ""


def newest_kernel(releases: Sequence[str]) -> str | None:
    return max(releases, key=kernel_version_key, default=None)


def reboot_needed(running: str, installed: Sequence[str]) -> bool:
    """True when a kernel newer than the running one (``uname -r``) is installed.

    ``installed`` comes from :func:`parse_rpm_last` or :func:`parse_boot_listing`. On
    Debian/Ubuntu only kernels of the running flavour count: across flavours the order
    would come from the flavour's name (``cloud-amd64`` > ``amd64``), not its age.
    """
    flavour = kernel_flavour(running)
    if flavour:
        installed = [r for r in installed if kernel_flavour(r) == flavour]
    newest = newest_kernel(installed)
    return newest is not None and kernel_version_key(newest) > kernel_version_key(running)
