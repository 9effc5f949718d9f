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
    ├── TransportError                  exit 3: cannot talk to a host (``host`` attribute)
    │   ├── HostUnreachable             refused, timed out, no route, name not found
    │   ├── HostKeyError                unknown or changed host key (never silently accepted)
    │   ├── AuthenticationError         no key, agent or password the host accepts
    │   ├── PrivilegeError              `sudo -n` needs a password or is not allowed
    │   └── CommandTimeout              a command ran longer than its timeout
    ├── DiscoveryFailed                 exit 3: hosts that could not be read (all listed)
    ├── PreflightFailed                 exit 3: a check before any change failed (``host``)
    ├── StepFailed                      exit 1: a step failed; run halted, resumable
    ├── RestoreFailed                   exit 1: `restore` stopped part-way; says the state
    ├── ResumeRefused                   exit 4: the plan changed since the run started
    ├── RunBusy                         exit 4: another live process carries the run out
    └── RestoreRefused                  exit 4: no backup to restore from (or renamed units)

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


class TransportError(StackstepError):
    """Cannot run something on a host. Carries ``host`` (the inventory name)."""

    exit_code = 3

    def __init__(self, host: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{host}: {message}", hint=hint)
        self.host = host


class HostUnreachable(TransportError):
    """Connection refused, timed out, no route, or the name does not resolve."""


class HostKeyError(TransportError):
    """The host's key is unknown or differs from known_hosts."""


class AuthenticationError(TransportError):
    """The host accepted none of our keys (files or agent)."""


class PrivilegeError(TransportError):
    """``sudo -n`` was refused (password required or not allowed)."""


class CommandTimeout(TransportError):
    """A command ran longer than its timeout and was stopped."""

    def __init__(self, host: str, command: str, timeout: float) -> None:
        super().__init__(
            host,
            f"`{command}` did not finish within {timeout:g} s",
            hint="look on the host at what the command waits for (a lock, a hung unit, the "
            "network), end or fix it, then resume",
        )
        self.command = command
        self.timeout = timeout


class StepFailed(StackstepError):
    """A step failed: names host, step, exit status, output tail and how to resume."""

    exit_code = 1

    def __init__(
        self,
        step_id: str,
        host: str | None,
        message: str,
        *,
        exit_status: int | None = None,
        output_tail: str = "",
        hint: str | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        where = f" on {host}" if host else ""
        super().__init__(f"step {step_id}{where} failed: {message}", hint=hint)
        self.step_id = step_id
        self.host = host
        self.exit_status = exit_status
        self.output_tail = output_tail
        self.data = dict(data or {})  # structured detail for the journal (JSON values)


class PreflightFailed(StackstepError):
    """A check made before changing anything failed (exit 3): nothing was changed."""

    exit_code = 3

    def __init__(self, host: str | None, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{host}: {message}" if host else message, hint=hint)
        self.host = host


class ResumeRefused(StackstepError):
    """Resuming would run a different plan than the one journalled."""

    exit_code = 4


class RunBusy(StackstepError):
    """Another live stackstep process holds the run's lock (or a run of the same cloud):
    names the run, that process's pid and command, and how to go on once it is free
    (``resume``: the command; "" when there is no run to go on with)."""

    exit_code = 4

    def __init__(
        self, run_id: str, pid: int | None, command: str, resume: str, *, what: str = ""
    ) -> None:
        by = f"`stackstep {command}`" if command else "another stackstep"
        stop = f"kill {pid}" if pid is not None else "kill its process"
        super().__init__(
            f"{what}run {run_id} is being carried out by {by} "
            f"(pid {pid if pid is not None else 'unknown'})",
            hint=f"wait for it, or stop it with Ctrl-C / {stop}"
            + (f"; then `{resume}`" if resume else ""),
        )
        self.run_id = run_id
        self.pid = pid
        self.command = command


class RestoreRefused(StackstepError):
    """`stackstep restore` refuses: the run has no backup of that service, or the
    service cannot be put back automatically (its units were renamed)."""

    exit_code = 4


class RestoreFailed(StackstepError):
    """A restore stopped part-way: ``failures`` (host, step, output) and ``state``, one
    line per part of the service (units, packages, database) as it was left."""

    exit_code = 1

    def __init__(
        self, what: str, failures: list[StepFailed], state: list[str], *, hint: str
    ) -> None:
        first = failures[0].message if failures else "interrupted"
        super().__init__(f"{what} failed: {first}; state: " + "; ".join(state), hint=hint)
        self.what = what
        self.failures = failures
        self.state = state

    def render(self) -> str:
        lines = [f"{self.what} failed:"]
        for failure in self.failures:
            lines.append(f"  {failure.message}")
            lines.extend(f"    | {line}" for line in failure.output_tail.splitlines()[-5:])
        lines.append("the service now:")
        lines.extend(f"  {line}" for line in self.state)
        return "\n".join([*lines, f"  hint: {self.hint}"])


class DiscoveryFailed(StackstepError):
    """Discovery could not read some hosts; ``reasons`` has one line per host."""

    exit_code = 3

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(
            f"{len(reasons)} host(s) could not be read; nothing was changed",
            hint="fix them (or remove them from the inventory) and run again; "
            "`stackstep preflight` lists every other problem of the cloud at the same time",
        )
        self.reasons = reasons

    def render(self) -> str:
        lines = [self.message + ":", *(f"  {r}" for r in self.reasons)]
        return "\n".join([*lines, f"  hint: {self.hint}"])
