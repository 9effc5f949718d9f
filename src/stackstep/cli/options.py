"""The options several commands share, declared once; and reading their values.

Each is a decorator (a factory where commands word its help differently); :func:`options`
stacks several in the order `--help` lists them. Nothing here imports more than click:
`stackstep plan --help` loads this module, and must start about as fast as click alone
(bench/cli_startup.py), so the planner's choices are repeated here (a unit test keeps
them equal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from stackstep.engine.load import LoadSettings
    from stackstep.engine.prober import ProbeSettings
    from stackstep.session import RunRequest
    from stackstep.transport.base import TransportOptions

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

STRATEGIES = ("service-by-service", "all-at-once", "rolling")  # = stackstep.planner.STRATEGIES
AUTO = "auto"  # = stackstep.planner.options.AUTO
DEFAULT_PARALLEL = 20  # = stackstep.planner.options.DEFAULT_PARALLEL
FILE = click.Path(dir_okay=False, path_type=Path)
DIRECTORY = click.Path(file_okay=False, path_type=Path)


def options(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator applying ``decorators``: `--help` lists them in this order."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def inventory(
    help: str = "stackstep YAML inventory, or an Ansible INI/YAML inventory.",
    *,
    required: bool = True,
) -> Decorator[Any]:
    return click.option("-i", "--inventory", required=required, type=FILE, help=help)


def catalog_files(help: str) -> Decorator[Any]:
    return click.option("--catalog", "catalog_files", multiple=True, type=FILE, help=help)


def parallel(default: int, help: str) -> Decorator[Any]:
    return click.option(
        "--parallel", type=click.IntRange(min=1), default=default, show_default=True, help=help
    )


def state_dir(help: str | None = None) -> Decorator[Any]:
    return click.option("--state-dir", type=DIRECTORY, help=help)


def as_json(help: str = "print as JSON.") -> Decorator[Any]:
    return click.option("--json", "as_json", is_flag=True, help=help)


yes = click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation.")


def known_hosts(
    help: str = "known_hosts file to verify host keys against (default ~/.ssh).",
) -> Decorator[Any]:
    return click.option("--known-hosts", type=click.Path(dir_okay=False), help=help)


def accept_new_host_keys(
    help: str = "trust and record keys of hosts not yet in known_hosts.",
) -> Decorator[Any]:
    return click.option("--accept-new-host-keys", is_flag=True, help=help)


host_keys = options(known_hosts(), accept_new_host_keys())

PROBE_INTERVAL = 0.2  # = stackstep.engine.prober.DEFAULT_INTERVAL
probe = options(
    click.option(
        "--no-probe",
        is_flag=True,
        help="do not measure the APIs' availability during the run (docs/downtime.md).",
    ),
    click.option(
        "--probe-interval",
        type=click.FloatRange(min=0.05, max=60),
        default=PROBE_INTERVAL,
        show_default=True,
        help="seconds between two probes of one API.",
    ),
)
"""``--known-hosts`` and ``--accept-new-host-keys``, as :func:`transport_options` reads them."""

LOAD_RATES = (1.0, 1000.0)  # = stackstep.engine.load.MIN_RATE, MAX_RATE
load = options(
    click.option(
        "--load",
        "load_rate",
        type=click.FloatRange(*LOAD_RATES),
        metavar="RATE",
        help="send keystone token validations at RATE/s (issues at RATE/10, GETs on the "
        "other APIs) through the load balancer and count the failed ones (docs/downtime.md). "
        "resume: the run's last rate unless given.",
    ),
    click.option("--no-load", is_flag=True, help="resume: send no load (see --load)."),
)
"""``--load RATE`` and ``--no-load``, as :func:`load_settings` reads them."""

plan_options = options(
    inventory(),
    click.option(
        "--from",
        "from_release",
        metavar="RELEASE",
        help="release the cloud runs now (default: the inventory's `release`).",
    ),
    click.option(
        "--to",
        "to_release",
        metavar="RELEASE",
        help="release to upgrade to (default: the inventory's `target`, else the next).",
    ),
    click.option(
        "--strategy",
        type=click.Choice((AUTO, *STRATEGIES)),
        default=AUTO,
        show_default=True,
        help="one service at a time, everything at once, or node by node behind the "
        "load balancer (auto: rolling when the inventory declares one and a service runs "
        "on 2+ hosts, else service-by-service).",
    ),
    click.option(
        "--batch",
        metavar="N|P%",
        help="rolling: after one canary host, upgrade this many other hosts (computes, "
        "storage) at once (default: --parallel).",
    ),
    click.option(
        "--only",
        multiple=True,
        metavar="SERVICES",
        help="upgrade only these services (comma-separated or repeated).",
    ),
    click.option("--skip", multiple=True, metavar="SERVICES", help="leave these services out."),
    parallel(DEFAULT_PARALLEL, "at most this many hosts at once in a step."),
    click.option("--no-prefetch", is_flag=True, help="do not download packages ahead."),
    click.option("--no-backup", is_flag=True, help="take NO database backups (no rollback)."),
    click.option(
        "--force",
        is_flag=True,
        help="go on although a service is unhealthy before the upgrade (preflight warns).",
    ),
    click.option(
        "--include-unassigned",
        is_flag=True,
        help="also upgrade hosts with no role (repository, every package, reboot check).",
    ),
    catalog_files("extra catalog TOML file(s) overriding or adding to the shipped one."),
)
"""What to plan: the inventory, releases, strategy, selection, limits, catalogs."""


def run_request(kw: dict[str, Any]) -> RunRequest:
    """The run request from :data:`plan_options`' values."""
    from stackstep.planner import PlanOptions  # noqa: PLC0415
    from stackstep.session import RunRequest, split_names  # noqa: PLC0415

    return RunRequest(
        Path(kw["inventory"]),
        tuple(Path(c) for c in kw["catalog_files"]),
        PlanOptions(
            from_release=kw["from_release"],
            to_release=kw["to_release"],
            strategy=kw["strategy"],
            only=split_names(kw["only"]),
            skip=split_names(kw["skip"]),
            parallel=kw["parallel"],
            prefetch=not kw["no_prefetch"],
            backup=not kw["no_backup"],
            force=bool(kw.get("force")),
            include_unassigned=bool(kw.get("include_unassigned")),
            batch=kw.get("batch"),
        ),
    )


def transport_options(kw: dict[str, Any]) -> TransportOptions:
    """How to connect, from :data:`host_keys`' values."""
    from stackstep.transport.base import TransportOptions  # noqa: PLC0415

    return TransportOptions(
        known_hosts=kw.get("known_hosts"),
        accept_new_host_keys=bool(kw.get("accept_new_host_keys")),
    )


def probe_settings(kw: dict[str, Any]) -> ProbeSettings:
    """``--no-probe`` and ``--probe-interval`` (see :data:`probe`)."""
    from stackstep.engine.prober import ProbeSettings  # noqa: PLC0415

    return ProbeSettings(not kw.get("no_probe"), kw.get("probe_interval") or PROBE_INTERVAL)


def load_settings(kw: dict[str, Any], previous: float | None = None) -> LoadSettings:
    """``--load RATE`` (else ``previous``: the rate of the run's last load session, for
    resume) unless ``--no-load``; the keystone credentials from the environment."""
    import os  # noqa: PLC0415

    from stackstep.engine.load import LoadSettings, credentials_from_env  # noqa: PLC0415

    rate = None if kw.get("no_load") else kw.get("load_rate") or previous
    if rate is None:
        return LoadSettings()
    found = credentials_from_env(os.environ)
    if isinstance(found, str):
        return LoadSettings(rate, None, found)
    return LoadSettings(rate, found)


def state_dir_of(kw: dict[str, Any]) -> Path:
    """``--state-dir``, else the default state directory (docs/state.md)."""
    if kw.get("state_dir"):
        return Path(kw["state_dir"])
    from stackstep.engine.journal import default_state_dir  # noqa: PLC0415

    return default_state_dir()


def resume_command(run_id: str, kw: dict[str, Any]) -> str:
    """The command that goes on with run ``run_id``, with the same ``--state-dir``."""
    extra = f" --state-dir {kw['state_dir']}" if kw.get("state_dir") else ""
    return f"stackstep resume {run_id}{extra}"


def resume_for(kw: dict[str, Any]) -> Callable[[str], str]:
    """:func:`resume_command` of any run, with the same ``--state-dir`` (what a refusal
    of a busy run says to run once it is free)."""
    return lambda run_id: resume_command(run_id, kw)


def confirm(question: str, yes: bool, refusal: str, hint: str) -> bool:
    """``--yes``, or ask once on a terminal; without a terminal refuse (exit 2)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        from stackstep.errors import InputError  # noqa: PLC0415

        raise InputError(refusal, hint=hint)
    return bool(click.confirm(question, default=False))
