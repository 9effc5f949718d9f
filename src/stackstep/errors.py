"""The one exception tree of stackstep.

Every failure a user can meet is one of these; ``cli`` maps each class to an exit
code (docs/exit-codes.md) and prints its message. Nothing below ``cli`` prints.

::

    StackstepError                      exit 1 unless a subclass says otherwise
    ├── InputError                      exit 2: the user's input is wrong
    │   ├── InventoryError              inventory file(s): carries every Problem found
    │   ├── CatalogError                catalog file(s): carries every Problem found
    │   └── PlanError                   the request cannot be planned (unknown service,
    │                                   cycle, service on no host, not an upgrade path)
    └── (engine errors arrive with the engine: transport, step failure, resume refusal)

Errors carry structured attributes (problems, file, line, key path) so that the console,
the JSON output and the journal can each render them their own way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    hint: str | None = None

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: "
        if self.key:
            text += f"{self.key}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "key": self.key,
            "hint": self.hint,
        }


class StackstepError(Exception):
    """Base of every error stackstep raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(StackstepError):
    """Something the user gave us (a file, an option) is wrong. Exit 2."""

    exit_code = 2


class _ProblemsError(InputError):
    what = "input"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} in the {self.what}")

    def render(self) -> str:
        lines = [f"error: {self.message}:"]
        lines.extend(f"  {p.render()}" for p in self.problems)
        return "\n".join(lines)


class InventoryError(_ProblemsError):
    """The inventory is malformed; ``problems`` lists every mistake found."""

    what = "inventory"


class CatalogError(_ProblemsError):
    """The catalog (shipped or user file) is malformed; ``problems`` lists each."""

    what = "catalog"


class PlanError(InputError):
    """The request is well-formed but cannot be planned."""
