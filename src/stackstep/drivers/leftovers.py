"""Configuration files a package manager set aside, found with ``find ... -print``.

rpm writes ``.rpmnew`` (an edited ``%config(noreplace)`` file was kept: the shipped
one is beside it), ``.rpmsave`` (an edited ``%config`` file was replaced or the package
removed: the operator's copy is beside it) and ``.rpmorig``. dpkg writes ``.dpkg-dist``
(kept the edited conffile), ``.dpkg-old`` (replaced it) and ``.dpkg-new`` (interrupted);
ucf writes ``.ucf-dist``, ``.ucf-old`` and ``.ucf-new``. The command is
:func:`find_leftovers`; :func:`parse_leftovers` reads what it prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackstep.model.command import Command, cmd, path_operand

SUFFIXES = (
    ".rpmnew",
    ".rpmsave",
    ".rpmorig",
    ".dpkg-dist",
    ".dpkg-old",
    ".dpkg-new",
    ".ucf-dist",
    ".ucf-old",
    ".ucf-new",
)


def find_leftovers(dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> Command:
    """``find`` every file a package manager set aside under ``dirs``."""
    names: list[str] = []
    for suffix in suffixes:
        names += ["-o", "-name", f"*{suffix}"] if names else ["-name", f"*{suffix}"]
    points = (path_operand(d) for d in dirs)
    return cmd("find", *points, "-type", "f", "(", *names, ")", "-print")


@dataclass(frozen=True)
class Leftover:
    path: str  # the set-aside file, e.g. /etc/nova/nova.conf.rpmnew
    original: str  # the live configuration file, e.g. /etc/nova/nova.conf
    kind: str  # the suffix without its dot: rpmnew, dpkg-dist, ...


def leftover(path: str) -> Leftover | None:
    for suffix in SUFFIXES:
        if path.endswith(suffix) and len(path) > len(suffix):
            return Leftover(path, path.removesuffix(suffix), suffix[1:])
    return None


def parse_leftovers(text: str) -> dict[str, list[Leftover]]:
    """``find -print`` output -> ``{kind: [leftover, ...]}``, paths sorted within a kind.

    Lines that end in none of the known suffixes are ignored.
    """
    grouped: dict[str, list[Leftover]] = {}
    for line in sorted(text.splitlines()):
        found = leftover(line)
        if found:
            grouped.setdefault(found.kind, []).append(found)
    return grouped
