"""Typed step results: what a step left in the journal besides its state and message.

The engine's actions write them as a step's ``data`` in the journal (``steps.data_json``):
``backup`` (backup-db: the dump's path), ``files`` (collect-configs: the files set aside),
``findings`` (preflight), ``restarted`` (restart-units), ``running``, ``newest`` and
``reboot_needed`` (reboot-check), ``hint`` (a failed step's own advice). The reports and
the features read them through :class:`StepResult`, never by string key; the journal
keeps the same JSON. ``from_json`` is forgiving, as the step parameters' is: a key
missing or of the wrong type reads as its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackstep.model.plan import Json


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class StepResult:
    backup: str | None = None
    files: tuple[str, ...] = ()
    findings: tuple[Json, ...] = ()  # Finding.to_json() each (engine/preflight.py reads them)
    restarted: tuple[str, ...] = ()
    running: str = ""
    newest: str = ""
    reboot_needed: bool = False
    hint: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> StepResult:
        backup, findings, hint = data.get("backup"), data.get("findings"), data.get("hint")
        return cls(
            backup=backup if isinstance(backup, str) else None,
            files=_texts(data.get("files")),
            findings=tuple(findings) if isinstance(findings, list) else (),
            restarted=_texts(data.get("restarted")),
            running=str(data.get("running") or ""),
            newest=str(data.get("newest") or ""),
            reboot_needed=bool(data.get("reboot_needed")),
            hint=str(hint) if hint else "",
        )
