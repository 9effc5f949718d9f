"""Which distribution a host runs, hence its package family and package manager.

``/etc/os-release`` exists from RHEL/CentOS 7 and every Debian/Ubuntu in use; RHEL and
CentOS 6 only have ``/etc/redhat-release`` ("CentOS release 6.10 (Final)"), which
:func:`parse_redhat_release` reads into the same value.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from stackstep.model.catalog import Family
from stackstep.model.command import Command, cmd
from stackstep.model.inventory import PackageManager

RPM_IDS = ("rhel", "centos", "fedora", "rocky", "almalinux", "ol", "scientific")
DEB_IDS = ("debian", "ubuntu")
_FEDORA_FIRST_DNF = 22  # Fedora switched from yum to dnf in release 22; EL in release 8
_EL_FIRST_DNF = 8
_REDHAT_RELEASE = re.compile(r"^(?P<name>.+?) release (?P<version>[\d.]+)")
_REDHAT_NAMES = (("centos", "centos"), ("red hat", "rhel"), ("scientific", "scientific"))


@dataclass(frozen=True)
class OsRelease:
    id: str
    id_like: tuple[str, ...] = ()
    version_id: str = ""
    pretty_name: str = ""

    @property
    def major(self) -> int | None:
        head = self.version_id.split(".", 1)[0]
        return int(head) if head.isdigit() else None


def os_release_command() -> Command:
    return cmd("cat", "/etc/os-release")


def redhat_release_command() -> Command:
    """For RHEL/CentOS 6, which have no ``/etc/os-release``."""
    return cmd("cat", "/etc/redhat-release")


def _value(raw: str) -> str:
    try:
        words = shlex.split(raw)
    except ValueError:
        return raw.strip().strip("\"'")
    return " ".join(words)


def parse_os_release(text: str) -> OsRelease:
    """``/etc/os-release`` (shell-style ``KEY=value`` lines, values maybe quoted)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = _value(raw)
    return OsRelease(
        id=values.get("ID", "linux").lower(),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        version_id=values.get("VERSION_ID", ""),
        pretty_name=values.get("PRETTY_NAME", values.get("NAME", "")),
    )


def parse_redhat_release(text: str) -> OsRelease:
    """``/etc/redhat-release`` -> ``OsRelease(id="rhel"|"centos"|..., version_id="6.10")``."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    found = _REDHAT_RELEASE.match(line)
    lowered = line.lower()
    os_id = next((i for needle, i in _REDHAT_NAMES if needle in lowered), "")
    if not found or not os_id:
        return OsRelease(id="", pretty_name=line)
    like = () if os_id == "rhel" else ("rhel",)
    return OsRelease(os_id, like, found["version"], line)


def _rpm_manager(os: OsRelease) -> PackageManager:
    major = os.major
    first_dnf = _FEDORA_FIRST_DNF if os.id == "fedora" else _EL_FIRST_DNF
    return "yum" if major is not None and major < first_dnf else "dnf"


def family_of(os: OsRelease) -> tuple[Family, PackageManager]:
    """``("rpm", "yum"|"dnf")`` or ``("deb", "apt")`` from ID, then ID_LIKE.

    Raises ValueError for a distribution stackstep does not know.
    """
    for candidate in (os.id, *os.id_like):
        if candidate in RPM_IDS:
            return ("rpm", _rpm_manager(os))
        if candidate in DEB_IDS:
            return ("deb", "apt")
    name = os.pretty_name or os.id or "an unknown system"
    raise ValueError(
        f"cannot tell the package manager of {name} (ID={os.id!r}, "
        f"ID_LIKE={' '.join(os.id_like)!r}): stackstep knows RHEL-like "
        "(rhel, centos, fedora, rocky, almalinux) and Debian-like (debian, ubuntu) systems"
    )
