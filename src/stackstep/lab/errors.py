"""Errors of the lab."""

from __future__ import annotations

from stackstep.errors import InputError, StackstepError


class LabError(StackstepError):
    """A lab operation failed; the message names the command and its output."""


class LabInputError(InputError, LabError):
    """What the lab was asked for cannot be: exit 2, nothing touched."""


class NeedsRoot(InputError):
    """The lab creates namespaces, mounts and containers: it needs root."""

    def __init__(self) -> None:
        super().__init__(
            "stackstep lab needs root: it creates network namespaces, overlay mounts and "
            "systemd-nspawn containers",
            hint="run it as root (sudo stackstep lab ...)",
        )
