"""Preparing a run, with no terminal: load the inventory and the catalog, read the hosts
(discovery) or derive their facts from the inventory, plan.

The **run request** is what a user asked for: the inventory, the catalog files and the
plan options. The journal keeps it as versioned JSON (:meth:`RunRequest.to_json`), so
that `resume`, `reboot`, `restore` and `configs` prepare the same run again; it does not
depend on the command line's flag names. Journals of the release before versions hold
`upgrade`'s keyword arguments instead; :meth:`RunRequest.from_json` reads both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stackstep.catalog import load_catalog
from stackstep.errors import DiscoveryFailed, InputError
from stackstep.inventory.loader import check_smoke, load_inventory
from stackstep.model.catalog import Catalog
from stackstep.model.facts import Discovered, Facts
from stackstep.model.inventory import Inventory
from stackstep.model.plan import Json, Plan
from stackstep.planner import STRATEGIES, PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.facts import facts_from_discovery
from stackstep.planner.options import DEFAULT_PARALLEL
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.transport.base import TransportOptions

if TYPE_CHECKING:
    from stackstep.engine.events import Listener
    from stackstep.engine.executor import Executor, Policy, RunResult
    from stackstep.engine.journal import Journal
    from stackstep.engine.load import LoadSettings
    from stackstep.engine.prober import ProbeSettings
    from stackstep.transport.factory import PoolSession

REQUEST_VERSION = 1  # of RunRequest.to_json; none: the release before (click's kwargs)


def split_names(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``("a,b", "c")`` -> ``("a", "b", "c")``: names given comma-separated or repeated."""
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class RunRequest:
    """What a run was asked to do: the files it reads and the plan's options."""

    inventory: Path
    catalog_files: tuple[Path, ...] = ()
    options: PlanOptions = field(default_factory=PlanOptions)
    version: int = REQUEST_VERSION  # read from: 0 is the release before versions

    def absolute(self) -> RunRequest:
        """The same request with its paths made absolute (resume may run elsewhere)."""
        return RunRequest(
            self.inventory.resolve(),
            tuple(c.resolve() for c in self.catalog_files),
            self.options,
            self.version,
        )

    def to_json(self) -> dict[str, Json]:
        o = self.options
        return {
            "version": REQUEST_VERSION,
            "inventory": str(self.inventory),
            "catalog_files": [str(c) for c in self.catalog_files],
            "from_release": o.from_release,
            "to_release": o.to_release,
            "strategy": o.strategy,
            "only": list(o.only),
            "skip": list(o.skip),
            "parallel": o.parallel,
            "prefetch": o.prefetch,
            "backup": o.backup,
            "force": o.force,
            "include_unassigned": o.include_unassigned,
            "batch": o.batch,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> RunRequest:
        """A request as :meth:`to_json` wrote it, or as the release before versions did
        (`upgrade`'s keyword arguments: ``no_prefetch``, ``no_backup``, and ``only`` and
        ``skip`` as typed, comma-separated)."""
        read = _Reader(data)
        version = data.get("version")
        if version is not None and version != REQUEST_VERSION:
            raise InputError(
                f"the journal's run request is version {version}; this stackstep reads "
                f"version {REQUEST_VERSION} and older",
                hint="use the stackstep that started the run",
            )
        legacy = version is None
        inventory = read.optional_text("inventory")
        if not inventory:
            raise InputError(
                "the journal's run request names no inventory",
                hint="the journal was changed by something other than stackstep",
            )
        options = PlanOptions(
            from_release=read.optional_text("from_release"),
            to_release=read.optional_text("to_release"),
            strategy=read.text("strategy", STRATEGIES[0]),
            only=split_names(read.texts("only")),
            skip=split_names(read.texts("skip")),
            parallel=read.number("parallel", DEFAULT_PARALLEL),
            prefetch=not read.flag("no_prefetch") if legacy else read.flag("prefetch", True),
            backup=not read.flag("no_backup") if legacy else read.flag("backup", True),
            force=read.flag("force"),
            include_unassigned=read.flag("include_unassigned"),
            batch=read.optional_text("batch"),
        )
        catalogs = tuple(Path(c) for c in read.texts("catalog_files"))
        return cls(Path(inventory), catalogs, options, 0 if legacy else REQUEST_VERSION)


class _Reader:
    """Typed values of a stored request; a value of the wrong type is an input error."""

    def __init__(self, data: Mapping[str, Json]) -> None:
        self.stored = data

    def _bad(self, key: str, what: str) -> InputError:
        return InputError(
            f"the journal's run request: {key} should be {what}, not {self.stored[key]!r}",
            hint="the journal was changed by something other than stackstep",
        )

    def optional_text(self, key: str) -> str | None:
        value = self.stored.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._bad(key, "text or null")

    def text(self, key: str, default: str) -> str:
        value = self.optional_text(key)
        return default if value is None else value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.stored.get(key)
        if value is None:
            return ()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(str(v) for v in value)
        raise self._bad(key, "a list of texts")

    def number(self, key: str, default: int) -> int:
        value = self.stored.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self._bad(key, "a whole number")

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.stored.get(key, default)
        if isinstance(value, bool):
            return value
        raise self._bad(key, "true or false")


def load_all(inventory: Path, catalog_files: tuple[Path, ...]) -> tuple[Catalog, Inventory]:
    catalog = load_catalog(catalog_files)
    services = {n for n in catalog.service_names() if ":" not in n}
    return catalog, load_inventory(inventory, catalog.ansible_group_map(), services=services)


@dataclass(frozen=True)
class Prepared:
    request: RunRequest
    catalog: Catalog
    inventory: Inventory
    facts: Facts
    plan: Plan


def run_discovery(
    inventory: Inventory,
    catalog: Catalog,
    transport: TransportOptions,
    parallel: int,
    connections: PoolSession | None = None,
) -> list[Discovered]:
    """Read every host. With ``connections`` (an upgrade's) they stay open in it for the
    run that follows; without, they are opened (with ``transport``) and closed here."""
    # imported here: SSH (asyncssh) costs a plan without --discover a third of a second
    from stackstep.discovery import discover  # noqa: PLC0415
    from stackstep.transport.factory import PoolSession  # noqa: PLC0415

    if connections is not None:
        return connections.run(discover(inventory.hosts, connections.pool, catalog, parallel))
    with PoolSession(transport) as own:
        return own.run(discover(inventory.hosts, own.pool, catalog, parallel))


def require_reachable(found: list[Discovered]) -> None:
    """Stop (exit 3) listing every host discovery could not read."""
    bad = [d for d in found if d.error]
    if bad:
        raise DiscoveryFailed([d.error or d.name for d in bad])


def prepare(
    request: RunRequest,
    facts: Facts | None = None,
    *,
    discover: TransportOptions | None = None,
    connections: PoolSession | None = None,
    before_hosts: Callable[[Inventory], None] | None = None,
) -> Prepared:
    """Load, then take ``facts``, or discover them (connecting with ``discover``, or
    through ``connections`` when given: see :func:`run_discovery`), or derive them from
    the inventory; plan. ``before_hosts`` sees the inventory before any host is read
    (it may raise: a live run of the same cloud)."""
    catalog, inventory = load_all(request.inventory, request.catalog_files)
    if before_hosts is not None:
        before_hosts(inventory)
    options = request.options
    src, dst = resolve_releases(catalog, inventory, options)
    series = resolve_series(catalog, src, dst)
    check_smoke(inventory, series)
    if facts is None and discover is not None:
        found = run_discovery(inventory, catalog, discover, options.parallel, connections)
        require_reachable(found)
        facts = facts_from_discovery(inventory, catalog, series, found)
    if facts is None:
        facts = facts_from_inventory(inventory, catalog, series)
    return Prepared(
        request, catalog, inventory, facts, build_plan(inventory, catalog, facts, options)
    )


def execute(
    prepared: Prepared,
    journal: Journal,
    run_id: str,
    connections: PoolSession,
    view: Listener,
    policy: Policy,
    resume: str,
    probe: ProbeSettings | None = None,
    command: str = "upgrade",
    load: LoadSettings | None = None,
) -> tuple[RunResult, Path]:
    """Carry the run's plan out through ``connections`` (closing its pool at the end):
    every event goes to the journal, the run log and ``view`` (the terminal's). While it
    runs, the availability prober (``probe``; on by default) watches every API the plan
    verifies and the inventory's endpoints, as the journal's probe session ``command``; with
    ``load`` (``--load RATE``), the load generator sends requests through the inventory's
    load-balanced endpoints and counts the failed ones (a load session). The first
    SIGINT or SIGTERM lets running steps finish and starts no new one, the second cancels.
    The run's result (interrupted when cancelled) and the run log's path."""
    import asyncio  # noqa: PLC0415

    from stackstep.engine.events import EventBus  # noqa: PLC0415
    from stackstep.engine.executor import Executor, RunResult  # noqa: PLC0415
    from stackstep.engine.load import LoadSettings, load_targets, loading  # noqa: PLC0415
    from stackstep.engine.logfile import LogWriter  # noqa: PLC0415
    from stackstep.engine.prober import ProbeSettings, probe_targets, probing  # noqa: PLC0415
    from stackstep.model.states import RunStatus  # noqa: PLC0415

    log = LogWriter(journal.run_dir(run_id) / "run.log")
    bus = EventBus()
    bus.subscribe(log)
    bus.subscribe(view)
    hosts = {h.name: h for h in prepared.inventory.hosts}
    pool = connections.pool

    targets = probe_targets(prepared.plan.steps(), prepared.inventory)
    loaded = load_targets(prepared.plan.steps(), prepared.inventory)

    async def main() -> RunResult:
        try:
            executor = Executor(
                prepared.plan, run_id, journal, bus, pool, hosts, policy, resume, prepared.facts
            )
            async with (
                probing(journal, run_id, command, targets, probe or ProbeSettings()),
                loading(journal, run_id, loaded, load or LoadSettings(), command),
            ):
                return await _interruptible(executor)
        finally:
            await pool.close()

    try:
        result = connections.run(main())
    except asyncio.CancelledError:
        result = RunResult(RunStatus.INTERRUPTED)
    finally:
        log.close()
    return result, log.path


async def _interruptible(executor: Executor) -> RunResult:
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            executor.request_stop()
        elif task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    try:
        return await executor.execute()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
