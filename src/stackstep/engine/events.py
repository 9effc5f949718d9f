"""Events: everything that happens in a run, in order, for whoever listens.

The executor emits; the journal stores every event (append-only), the console and the
log file render them. Listeners are plain callables and must not raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from stackstep.model.plan import Json, Step
from stackstep.transport.base import Result

EventKind = Literal[
    "run-started",
    "run-finished",
    "group-started",
    "group-finished",
    "step-started",
    "step-finished",
    "step-skipped",
    "step-failed",
    "step-probed",
    "command",
    "halt",
    "stopping",
    "message",
    "restore-started",
    "restore-finished",
    "restore-failed",
]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    run_id: str
    step_id: str | None = None
    host: str | None = None
    message: str = ""
    data: dict[str, Json] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    # Typed reads of the engine's own payloads: a ``command`` event's (command_data), a
    # finished step's ``seconds``, a failed step's ``output_tail`` and ``hint``.

    @property
    def exit_status(self) -> int | None:
        value = _field(self, "exit_status")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def seconds(self) -> float | None:
        value = _field(self, "seconds")
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def output(self, stream: Literal["stdout", "stderr"]) -> str:
        """The tail of a command's standard output or error."""
        return _text(_field(self, stream))

    @property
    def output_tail(self) -> str:
        return _text(_field(self, "output_tail"))

    @property
    def hint(self) -> str:
        return _text(_field(self, "hint"))


def _field(event: Event, key: str) -> Json:
    payload = event.data
    return payload.get(key)


def _text(value: Json) -> str:
    return str(value) if value else ""


def step_event(
    kind: EventKind,
    run_id: str,
    step: Step | None = None,
    message: str = "",
    data: dict[str, Json] | None = None,
) -> Event:
    """An event about ``step`` (its id and host), or about the run when None."""
    host = step.host if step else None
    return Event(kind, run_id, step.id if step else None, host, message, data or {})


def command_data(result: Result) -> dict[str, Json]:
    """What a ``command`` event carries: exit status, duration and the output's tails."""
    return {
        "exit_status": result.exit_status,
        "seconds": round(result.duration, 3),
        "stdout": result.stdout[-8000:],
        "stderr": result.stderr[-8000:],
    }


Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
