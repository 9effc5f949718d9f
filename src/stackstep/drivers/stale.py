"""Which running units are older than the code they use: process start times against
package install times (what ``needs-restarting -s`` does for mapped files, but at the
package level, which also catches Python code that a process imports lazily, such as
nova-compute meeting a new glance client).

Commands are data; parsers read what the tools print (tests/data/outputs/stale/).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from stackstep.model.command import Command, cmd
from stackstep.model.inventory import PackageManager

DPKG_INFO = "/var/lib/dpkg/info"


def clock_command(pids: Iterable[int]) -> Command:
    """The host's clock (epoch seconds), its uptime, then each PID with its seconds since
    start: one round trip."""
    listed = ",".join(str(p) for p in pids)
    script = 'date +%s; cut -d" " -f1 /proc/uptime; [ -z "$1" ] || ps -o pid=,etimes= -p "$1"; true'
    return cmd("sh", "-c", script, "sh", listed)


@dataclass(frozen=True)
class Clock:
    now: int  # epoch seconds on the host
    uptime: float  # seconds since boot (systemd's monotonic timestamps count from there)
    starts: Mapping[int, int]  # pid -> start time (epoch seconds)

    def from_monotonic(self, monotonic_us: int) -> int:
        """Epoch seconds of a systemd ``...TimestampMonotonic`` value (for units that are
        no longer running, whose PID cannot be asked)."""
        return round(self.now - (self.uptime - monotonic_us / 1e6))


def parse_clock(text: str) -> Clock | None:
    """``clock_command`` output; None when the clock itself is unreadable."""
    lines = text.split("\n", 2)
    try:
        now, uptime = int(lines[0].strip()), float(lines[1].strip())
    except (IndexError, ValueError):
        return None
    fields = lines[2].split() if len(lines) > 2 else []
    starts = {
        int(pid): now - int(elapsed)
        for pid, elapsed in zip(fields[::2], fields[1::2], strict=False)
        if pid.isdigit() and elapsed.isdigit()
    }
    return Clock(now, uptime, starts)


def install_times_command(pm: PackageManager) -> Command:
    """Every installed package with its install time (epoch seconds)."""
    if pm == "apt":
        # dpkg rewrites a package's file list each time it installs the package
        return cmd("sh", "-c", f"stat -c '%Y %n' {DPKG_INFO}/*.list")
    return cmd("rpm", "-qa", "--qf", "%{INSTALLTIME} %{NAME}\\n")


def parse_install_times(text: str) -> list[tuple[int, str]]:
    """``EPOCH NAME`` (rpm) or ``EPOCH /var/lib/dpkg/info/NAME[:ARCH].list`` lines."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines():
        stamp, _, name = line.strip().partition(" ")
        if not stamp.isdigit() or not name:
            continue
        if name.startswith(DPKG_INFO + "/"):
            name = PurePosixPath(name).name.removesuffix(".list").split(":", 1)[0]
        out.append((int(stamp), name))
    return out


@dataclass(frozen=True)
class Stale:
    unit: str
    started: int
    packages: tuple[str, ...]  # matching packages installed since the unit started, by name
    installed: int  # when the newest of them was

    def because(self, most: int = 4) -> str:
        """``started before A, B and C were installed`` (at most ``most`` names)."""
        names = list(self.packages[:most])
        if len(self.packages) > most:
            names.append(f"{len(self.packages) - most} more")
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"started before {listed} {'was' if len(self.packages) == 1 else 'were'} installed"


def stale_units(
    starts: Mapping[str, int], installs: Iterable[tuple[int, str]], patterns: Iterable[str]
) -> list[Stale]:
    """Units started no later than a package matching ``patterns`` was installed.

    The same second counts as stale (times have one-second resolution; restarting once
    too often is the safe side).
    """
    globs = tuple(patterns)
    relevant = [(t, n) for t, n in installs if any(fnmatch.fnmatchcase(n, g) for g in globs)]
    out: list[Stale] = []
    for unit, started in starts.items():
        newer = [(t, n) for t, n in relevant if t >= started]
        if newer:
            names = tuple(sorted({n for _, n in newer}))
            out.append(Stale(unit, started, names, max(t for t, _ in newer)))
    return out
