"""Package values shared by the rpm and dpkg readers, and version ordering for both.

``rpm_version_key`` follows rpm's ``rpmvercmp`` (alphanumeric segments, numbers beat
letters, ``~`` sorts before the end and ``^`` after it); ``deb_version_key`` follows
dpkg's ``verrevcmp`` (``~`` before everything, letters before other symbols).
Kernel releases are ordered in :mod:`stackstep.drivers.kernels`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_RPM_SEGMENT = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")
_DEB_PART = re.compile(r"([^0-9]*)([0-9]*)")

# rpmvercmp segment ranks: tilde < end < caret < letters < numbers
_TILDE, _END, _CARET, _ALPHA, _NUM = range(5)

RpmKey = tuple[tuple[int, int, str], ...]
DebKey = tuple[int, tuple[tuple[int, ...] | int, ...], tuple[tuple[int, ...] | int, ...]]


@dataclass(frozen=True)
class Package:
    """One installed package as the package database reports it."""

    name: str
    version: str  # rpm: "[epoch:]version-release"; dpkg: the Debian version as shown
    arch: str = ""
    install_time: int | None = None  # seconds since the epoch (rpm only)


@dataclass(frozen=True)
class Upgrade:
    """One package the package manager would upgrade (or newly install)."""

    name: str
    version: str  # the version it would install
    arch: str = ""
    current: str | None = None  # installed version; None when it would be new
    origin: str = ""  # repository id (dnf) or origin/suite (apt)
    replaces: str | None = None  # the package it obsoletes (dnf "Obsoleting Packages")


def rpm_version_key(text: str) -> RpmKey:
    """A sort key that orders like ``rpmvercmp``: ``362.el9`` after ``70.13.1.el9_0``."""
    key: list[tuple[int, int, str]] = []
    for seg in _RPM_SEGMENT.findall(text):
        if seg == "~":
            key.append((_TILDE, 0, ""))
        elif seg == "^":
            key.append((_CARET, 0, ""))
        elif seg.isdigit():
            key.append((_NUM, int(seg), ""))
        else:
            key.append((_ALPHA, 0, seg))
    key.append((_END, 0, ""))
    return tuple(key)


def split_evr(evr: str) -> tuple[int, str, str]:
    """``"1:27.1.0-1.el9"`` -> ``(1, "27.1.0", "1.el9")``; a missing epoch is 0."""
    epoch, _, rest = evr.rpartition(":")
    version, dash, release = rest.rpartition("-")
    if not dash:
        version, release = rest, ""
    return (int(epoch) if epoch.isdigit() else 0, version, release)


def rpm_evr_key(evr: str) -> tuple[int, RpmKey, RpmKey]:
    """Order ``[epoch:]version-release`` strings the way rpm and dnf do."""
    epoch, version, release = split_evr(evr)
    return (epoch, rpm_version_key(version), rpm_version_key(release))


def _deb_char(char: str) -> int:
    if char == "~":
        return -1
    return ord(char) if char.isalpha() else ord(char) + 256


def _deb_part_key(text: str) -> tuple[tuple[int, ...] | int, ...]:
    key: list[tuple[int, ...] | int] = []
    for letters, digits in _DEB_PART.findall(text):
        if not letters and not digits:
            continue
        key += [(*(_deb_char(c) for c in letters), 0), int(digits or 0)]
    key.append((0,))
    return tuple(key)


def deb_version_key(version: str) -> DebKey:
    """A sort key that orders Debian versions like ``dpkg --compare-versions``."""
    epoch, colon, rest = version.partition(":")
    if not colon:
        epoch, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, "0"
    return (int(epoch or 0), _deb_part_key(upstream), _deb_part_key(revision))


def version_key(family: str, version: str) -> tuple[Any, ...]:
    """The sort key of ``version`` for its packaging: dpkg's order for "deb", rpm's else."""
    return deb_version_key(version) if family == "deb" else rpm_evr_key(version)
