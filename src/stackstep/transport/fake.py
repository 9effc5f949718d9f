"""A scripted transport for unit tests, in the spirit of ``httpx.MockTransport``.

Give it a handler (``Call -> Reply``, or an async one: a simulated host that takes its
time, or that several hosts share) or a list of rules; every command is recorded,
files live in a dict, and a command that nothing answers fails the test loudly::

    fake = FakeTransport("ctl-1", [
        on(["systemctl", "is-active"], stdout="active\\n"),
        on(r"^dnf .*upgrade", exit_status=1, stderr="no network"),
        on(["reboot"], raises=HostUnreachable("ctl-1", "connection lost")),
    ])
    result = await fake.run(cmd("systemctl", "is-active", "nova-api"))
    assert fake.calls == ["systemctl is-active nova-api"]
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from stackstep.errors import TransportError
from stackstep.model.command import Command
from stackstep.transport.base import Result


@dataclass(frozen=True)
class Reply:
    """What the fake host answers to one command."""

    exit_status: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Call:
    """One command as the fake saw it."""

    command: Command
    rendered: str  # Command.render(): secrets masked
    stdin: str | None
    timeout: float | None


Handler = Callable[[Call], Reply | Awaitable[Reply]]


@dataclass(frozen=True)
class Rule:
    """Answer commands whose argv starts with ``prefix`` or whose rendering matches
    ``pattern`` (``re.search``); raise ``raises`` instead of replying when set."""

    prefix: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None
    reply: Reply = Reply()
    raises: TransportError | None = None

    def matches(self, call: Call) -> bool:
        if self.prefix is not None:
            argv = tuple(call.command.reveal())
            return argv[: len(self.prefix)] == self.prefix
        return self.pattern is not None and self.pattern.search(call.rendered) is not None


def on(
    match: Sequence[str] | str | re.Pattern[str],
    exit_status: int = 0,
    stdout: str = "",
    stderr: str = "",
    *,
    raises: TransportError | None = None,
) -> Rule:
    """A rule: a list/tuple of tokens is an argv prefix (real values, secrets included);
    a string or compiled pattern is a regex searched in the rendered (masked) command."""
    reply = Reply(exit_status, stdout, stderr)
    if isinstance(match, str | re.Pattern):
        return Rule(pattern=re.compile(match), reply=reply, raises=raises)
    return Rule(prefix=tuple(match), reply=reply, raises=raises)


class UnexpectedCommand(AssertionError):
    """The fake was asked to run a command that no rule or handler answers."""


class FakeTransport:
    """A host that answers from a script. ``calls`` lists every rendered command run."""

    def __init__(
        self,
        host: str = "fake",
        handler: Handler | Sequence[Rule] = (),
        *,
        default: Reply | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        self.host = host
        self.calls: list[str] = []
        self.history: list[Call] = []
        self.files: dict[str, bytes] = dict(files or {})
        self.modes: dict[str, int] = {}
        self.closed = False
        self._handler = handler if callable(handler) else self._rules(tuple(handler))
        self._default = default

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        call = Call(command, command.render(), stdin, timeout)
        self.calls.append(call.rendered)
        self.history.append(call)
        answer = self._handler(call)
        reply = await answer if inspect.isawaitable(answer) else answer
        return Result(self.host, call.rendered, reply.exit_status, reply.stdout, reply.stderr, 0.0)

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        self.files[path] = bytes(data)
        self.modes[path] = mode

    async def get(self, path: str) -> bytes:
        if path not in self.files:
            raise TransportError(self.host, f"cannot read {path}: no such file (fake host)")
        return self.files[path]

    async def close(self) -> None:
        self.closed = True

    def _rules(self, rules: tuple[Rule, ...]) -> Handler:
        def answer(call: Call) -> Reply:
            rule = next((r for r in rules if r.matches(call)), None)
            if rule is None:
                return self._unmatched(call)
            if rule.raises is not None:
                raise rule.raises
            return rule.reply

        return answer

    def _unmatched(self, call: Call) -> Reply:
        if self._default is not None:
            return self._default
        raise UnexpectedCommand(
            f"{self.host}: unexpected command `{call.rendered}` (no rule matches;"
            " add one, or give the FakeTransport a default Reply)"
        )
