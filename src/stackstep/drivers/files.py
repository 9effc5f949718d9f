"""Commands that look at files: leftover package config files, kernels, reboot need."""

from __future__ import annotations

from stackstep.model.catalog import Family
from stackstep.model.command import Command, cmd, path_operand


def find_leftovers(dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> Command:
    """``find`` every file a package manager set aside under ``dirs``."""
    names: list[str] = []
    for suffix in suffixes:
        names += ["-o", "-name", f"*{suffix}"] if names else ["-name", f"*{suffix}"]
    points = (path_operand(d) for d in dirs)
    return cmd("find", *points, "-type", "f", "(", *names, ")", "-print")


def reboot_check(family: Family) -> tuple[Command, ...]:
    """Running kernel vs newest installed one, plus the distribution's own flag."""
    if family == "rpm":
        return (
            cmd("uname", "-r"),
            cmd("rpm", "-q", "--last", "kernel"),
            cmd("needs-restarting", "-r"),
        )
    return (cmd("uname", "-r"), cmd("ls", "/boot"), cmd("test", "-e", "/run/reboot-required"))
