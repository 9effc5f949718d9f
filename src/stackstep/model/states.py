"""The states a run and its steps go through, as the journal stores them.

They are ``StrEnum``: each member is the very string the journal has always stored
(``"done"``, ``"failed"``...), so journals written before and after read the same.
"""

from __future__ import annotations

from enum import StrEnum


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunStatus(StrEnum):
    RUNNING = "running"
    HALTED = "halted"  # stopped on purpose (a restore went through); resume goes on
    FAILED = "failed"
    DONE = "done"
    INTERRUPTED = "interrupted"


FINISHED = frozenset({StepState.DONE, StepState.SKIPPED})  # a step resume does not repeat


def step_state(value: object) -> StepState:
    """A state read from a journal; one this release does not know reads as pending."""
    try:
        return StepState(str(value))
    except ValueError:
        return StepState.PENDING


def run_status(value: object) -> RunStatus:
    """A status read from a journal; one this release does not know reads as failed."""
    try:
        return RunStatus(str(value))
    except ValueError:
        return RunStatus.FAILED
