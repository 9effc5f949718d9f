"""Free disk space: ``df -Pk PATHS`` (POSIX format: one line per path, in order)."""

from __future__ import annotations

from dataclasses import dataclass

from stackstep.model.command import Command, cmd

CHECKED_PATHS = ("/var", "/var/cache")


@dataclass(frozen=True)
class DiskSpace:
    path: str
    mount: str
    available_kib: int

    @property
    def available_gib(self) -> float:
        return self.available_kib / 1024 / 1024


def df_command(paths: tuple[str, ...] = CHECKED_PATHS) -> Command:
    return cmd("df", "-Pk", *paths)


def parse_df(text: str, paths: tuple[str, ...] = CHECKED_PATHS) -> list[DiskSpace]:
    """One entry per path that df could measure (missing paths are left out)."""
    rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
    rows = [r for r in rows if len(r) >= 6 and r[3].isdigit()]
    if len(rows) != len(paths):  # a path df could not stat: match by mount prefix
        return [DiskSpace(r[5], r[5], int(r[3])) for r in rows]
    return [DiskSpace(p, r[5], int(r[3])) for p, r in zip(paths, rows, strict=True)]
