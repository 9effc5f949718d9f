"""Commands are values built from argv tokens, quoted only when rendered.

A token wrapped in :class:`Secret` renders as ``******`` everywhere it is shown or
stored; only the transport ever asks for the real value (``reveal``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from stackstep.errors import PlanError
from stackstep.model.names import ENV_NAME

MASK = "******"


@dataclass(frozen=True)
class Secret:
    """A token that must never be shown: a password, a token, a connection URL."""

    value: str

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


Token = str | Secret


@dataclass(frozen=True)
class Command:
    """One program invocation: argv tokens, optionally with environment variables."""

    argv: tuple[Token, ...]
    env: tuple[tuple[str, Token], ...] = ()

    def __post_init__(self) -> None:
        for key, _value in self.env:  # `env KEY=V`: a key like "-S sh -c ..." would run
            if not ENV_NAME.fullmatch(key):
                raise ValueError(f"invalid environment variable name {key!r}")

    def render(self) -> str:
        """Shell-quoted text with secrets masked: safe for screens, logs and journals."""
        env = [f"{k}={shlex.quote(str(v))}" for k, v in self.env]
        return " ".join([*env, *(shlex.quote(str(t)) for t in self.argv)])

    def reveal(self) -> list[str]:
        """The real argv, secrets included: for the transport only."""
        return [t.value if isinstance(t, Secret) else t for t in self.argv]

    def masked(self) -> list[str]:
        """The argv with secrets masked, as the plan's JSON shows it."""
        return [str(t) for t in self.argv]

    def to_json(self) -> CommandJson:
        """The argv list (secrets masked); with an environment, ``{"env": {NAME: value},
        "argv": [...]}`` (docs/plan-json.md)."""
        if not self.env:
            return [str(t) for t in self.argv]
        return {"env": {k: str(v) for k, v in self.env}, "argv": [str(t) for t in self.argv]}

    @classmethod
    def from_json(cls, value: object) -> Command:
        """A command as :meth:`to_json` writes it (secrets come back masked)."""
        if isinstance(value, dict):
            env, argv = value.get("env"), value.get("argv")
            pairs = tuple((str(k), str(v)) for k, v in env.items()) if isinstance(env, dict) else ()
            return cls(tuple(str(a) for a in argv) if isinstance(argv, list) else (), pairs)
        return cls(tuple(str(a) for a in value) if isinstance(value, list) else ())


CommandJson = list[str] | dict[str, list[str] | dict[str, str]]


def cmd(*argv: Token) -> Command:
    return Command(tuple(argv))


def as_user(argv: tuple[str, ...] | list[str], user: str | None) -> Command:
    """``argv`` run as ``user`` (``runuser -u USER --``), or as is without a user."""
    return cmd("runuser", "-u", user, "--", *argv) if user else cmd(*argv)


def operands(*values: str) -> tuple[str, ...]:
    """``--`` then ``values``, for a tool that stops reading options at ``--``: a value
    such as ``-Hroot@host`` is then a name, never an option. Nothing when no values."""
    return ("--", *values) if values else ()


def path_operand(path: str) -> str:
    """``path`` as a starting point ``find`` cannot read as an expression (it has no
    ``--`` for them): a relative path gets ``./`` in front."""
    return path if path.startswith("/") else f"./{path}"


def not_option(value: str, what: str) -> str:
    """``value`` for a tool with no working ``--`` (SysV ``service``, the nova clients);
    PlanError when the tool would read it as an option."""
    if value.startswith("-"):
        raise PlanError(
            f"{what} {value!r} starts with '-': a command would read it as an option",
            hint="rename it in the catalog or inventory",
        )
    return value
