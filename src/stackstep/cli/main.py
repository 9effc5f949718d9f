"""`stackstep` command line entry point.

Every command turns a :class:`~stackstep.errors.StackstepError` into one clear message
and its exit code (docs/exit-codes.md); ``--json`` commands report errors as JSON too.
Set STACKSTEP_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from stackstep import __version__
from stackstep.cli import exit_codes
from stackstep.cli.commands import LazyGroup
from stackstep.errors import StackstepError, _ProblemsError

F = TypeVar("F", bound=Callable[..., Any])


def error_json(exc: StackstepError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    if isinstance(exc, _ProblemsError):
        body["problems"] = [p.to_dict() for p in exc.problems]
    return {"error": body, "exit_code": exc.exit_code}


def handle_errors(func: F) -> F:
    """Run a command; map our errors to a message and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except StackstepError as exc:
            if as_json:
                click.echo(json.dumps(error_json(exc), indent=2))
            rendered = exc.render()
            prefix = "" if rendered.startswith("error:") else "error: "
            click.echo(prefix + rendered, err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(exit_codes.INTERRUPTED)
        except Exception as exc:  # a bug: say so plainly, keep the details optional
            if os.environ.get("STACKSTEP_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"internal error: {type(exc).__name__}: {exc}\n"
                "  this is a bug in stackstep; rerun with STACKSTEP_DEBUG=1 "
                "and report the output",
                err=True,
            )
            sys.exit(exit_codes.INTERNAL)

    return wrapper  # type: ignore[return-value]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile. A 5,000-host plan is a million small
    objects with no cycles among them; the collector's passes over them cost as much as
    building them (bench/plan_scale.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="stackstep")
def cli() -> None:
    """Upgrade a multi-host OpenStack cloud one service at a time.

    discover -> plan (dry run) -> upgrade with health gates -> resume -> report.
    Exit codes: 0 ok, 1 failed, 2 input error, 3 blocked, 4 refused, 130 interrupted.
    """


def main() -> None:
    cli(prog_name="stackstep")  # each command's module is imported when it runs
