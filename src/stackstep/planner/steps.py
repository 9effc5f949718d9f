"""One small builder per kind of step. Each returns a frozen Step with a stable id."""

from __future__ import annotations

from stackstep.drivers import kernels, leftovers, packages, services
from stackstep.drivers.stale import install_times_command
from stackstep.drivers.systemd import show_units_command
from stackstep.model.catalog import Hook
from stackstep.model.command import Command, as_user, cmd
from stackstep.model.facts import HostFacts
from stackstep.model.params import (
    NO_PARAMS,
    BackupParams,
    Behind,
    CollectParams,
    Guard,
    HookParams,
    MigrateParams,
    PackagesParams,
    Probe,
    RepoParams,
    RestartParams,
    StepParams,
    UnitsParams,
    VerifyParams,
)
from stackstep.model.plan import Step, StepKind
from stackstep.planner.context import TIMEOUTS, Context, Placement
from stackstep.planner.preflight import preflight_data, probe_data, runs_smoke, smoke_commands


def _step(
    kind: StepKind,
    step_id: str,
    title: str,
    *,
    host: str,
    service: str | None = None,
    commands: tuple[Command, ...] = (),
    params: StepParams = NO_PARAMS,
    restore: bool = False,
) -> Step:
    return Step(step_id, kind, title, host, service, commands, params, restore, TIMEOUTS[str(kind)])


def preflight(ctx: Context, host: HostFacts, behind: list[Behind] | None = None) -> Step:
    params = preflight_data(ctx, host, behind or [])
    return _step(
        StepKind.PREFLIGHT,
        f"preflight/{host.name}/check",
        "check the host is ready: " + ", ".join(params.checks),
        host=host.name,
        params=params,
    )


def enable_repo(ctx: Context, host: HostFacts) -> Step:
    argv = ctx.inventory.repo_command or ctx.series.repo.argv(host.family, ctx.target)
    commands = (cmd(*argv), *packages.refresh(host.package_manager))
    return _step(
        StepKind.ENABLE_REPO,
        f"repo/{host.name}/enable",
        f"enable the {ctx.target.name} package repository",
        host=host.name,
        commands=commands,
        params=RepoParams(ctx.target.name),
    )


def prefetch(ctx: Context, host: HostFacts) -> Step:
    return _step(
        StepKind.PREFETCH,
        f"repo/{host.name}/prefetch",
        "download every pending upgrade now (shorter outages later)",
        host=host.name,
        commands=packages.download(host.package_manager),
    )


def stop_units(pl: Placement, host: HostFacts, units: tuple[str, ...] | None = None) -> Step:
    units = pl.stop_units(host) if units is None else units
    return _step(
        StepKind.STOP_UNITS,
        f"services/{pl.service.name}/{host.name}/stop-units",
        f"stop {pl.service.name}",
        host=host.name,
        service=pl.service.name,
        commands=services.unit_action(host.init, "stop", units),
        params=UnitsParams(tuple(units)),
    )


def upgrade_packages(pl: Placement, host: HostFacts, cached: bool = False) -> Step:
    """``cached``: the plan prefetches, so the upgrade inside the outage installs from the
    cache without asking the repository (drivers/packages.upgrade)."""
    return upgrade_globs(
        f"services/{pl.service.name}/{host.name}/upgrade-packages",
        f"upgrade {pl.service.name} packages",
        host,
        tuple(pl.service.packages.get(host.family)),
        cached,
        pl.service.name,
    )


def upgrade_globs(
    step_id: str,
    title: str,
    host: HostFacts,
    globs: tuple[str, ...],
    cached: bool,
    service: str | None = None,
) -> Step:
    """Upgrade the installed packages matching ``globs`` on ``host`` (``cached`` as for
    :func:`upgrade_packages`; apt has no such cache mode)."""
    cached = cached and host.package_manager != "apt"
    return _step(
        StepKind.UPGRADE_PACKAGES,
        step_id,
        title,
        host=host.name,
        service=service,
        commands=packages.upgrade(host.package_manager, globs, cached),
        params=PackagesParams(globs, cached),
    )


def hook(pl: Placement, host: HostFacts, spec: Hook, phase: str) -> Step:
    commands = (as_user(spec.argv, spec.user),) if spec.kind == "command" else ()
    when = spec.when
    guard = (
        Guard(tuple(as_user(when.argv, when.user).masked()), when.output_matches, when.exit_codes)
        if when is not None
        else None
    )
    params = HookParams(
        spec.name,
        phase,
        spec.kind,
        spec.description,
        guard,
        tuple(spec.params.items()) or None,
        spec.again_exit,
    )
    return _step(
        StepKind.HOOK,
        f"services/{pl.service.name}/{host.name}/{spec.name}",
        spec.description,
        host=host.name,
        service=pl.service.name,
        commands=commands,
        params=params,
    )


def upgrade_check(pl: Placement, host: HostFacts) -> Step | None:
    """``<svc>-status upgrade check`` with the new code, before the migration and the
    restart (what it is meant for): exit 1 warns, anything else but 0 stops the run."""
    argv = pl.service.upgrade_check
    if not argv:
        return None
    user = next((h.user for h in pl.service.migrate if h.user), None)
    return _step(
        StepKind.UPGRADE_CHECK,
        f"services/{pl.service.name}/{host.name}/upgrade-check",
        f"{' '.join(argv)} with the new code (exit 1 warns, 2 stops)",
        host=host.name,
        service=pl.service.name,
        commands=(as_user(argv, user),),
    )


def backup_db(pl: Placement, host: HostFacts) -> Step | None:
    db = pl.service.database
    if db is None:
        return None
    return _step(
        StepKind.BACKUP_DB,
        f"services/{pl.service.name}/{host.name}/backup-db",
        f"back up the {db.name} database (URL from {db.config} [{db.section}] {db.key})",
        host=host.name,
        service=pl.service.name,
        params=BackupParams(db.name, db.config, db.section, db.key),
    )


def migrate_db(pl: Placement, host: HostFacts) -> Step | None:
    hooks = pl.service.migrate
    if not hooks:
        return None
    commands = tuple(as_user(h.argv, h.user) for h in hooks)
    return _step(
        StepKind.MIGRATE_DB,
        f"services/{pl.service.name}/{host.name}/migrate-db",
        f"migrate the {pl.service.name} database: " + "; ".join(h.name for h in hooks),
        host=host.name,
        service=pl.service.name,
        commands=commands,
        params=MigrateParams(tuple(h.name for h in hooks)),
    )


def start_units(pl: Placement, host: HostFacts, units: tuple[str, ...], suffix: str = "") -> Step:
    return _step(
        StepKind.START_UNITS,
        f"services/{pl.service.name}/{host.name}/start-units{suffix}",
        f"start {pl.service.name}",
        host=host.name,
        service=pl.service.name,
        commands=services.unit_action(host.init, "start", units),
        params=UnitsParams(tuple(units)),
        restore=True,
    )


def verify(ctx: Context, pl: Placement, host: HostFacts) -> Step:
    units = pl.start_units(host)
    probe = probe_data(ctx, pl, host)
    smoke = smoke_commands(ctx, pl)
    params = VerifyParams(
        tuple(units), probe, smoke if runs_smoke(ctx, pl, host, probe is not None) else None
    )
    what = "units active" + (", API answers" if params.probe is not None else "")
    if params.smoke is not None:
        what += f", {len(smoke)} smoke check{'s' if len(smoke) > 1 else ''}"
    return _step(
        StepKind.VERIFY,
        f"services/{pl.service.name}/{host.name}/verify",
        f"verify {pl.service.name}: {what}",
        host=host.name,
        service=pl.service.name,
        commands=services.is_active(host.init, units),
        params=params,
    )


def collect_configs(ctx: Context, host: HostFacts, dirs: tuple[str, ...]) -> Step:
    suffixes = ctx.series.config_suffixes
    return _step(
        StepKind.COLLECT_CONFIGS,
        f"configs/{host.name}/collect",
        "list config files the package manager set aside",
        host=host.name,
        commands=(leftovers.find_leftovers(dirs, suffixes),),
        params=CollectParams(tuple(dirs), tuple(suffixes)),
    )


def full_upgrade(host: HostFacts, cached: bool = False) -> Step:
    """``cached``: inside the all-at-once outage, from the prefetched cache (no metadata
    refresh); the final upgrade after the outages asks the repository as usual."""
    cached = cached and host.package_manager != "apt"
    return _step(
        StepKind.FULL_UPGRADE,
        f"final/{host.name}/full-upgrade",
        "upgrade every remaining package (clients, libraries)",
        host=host.name,
        commands=packages.full_upgrade(host.package_manager, cached),
    )


def restart_stale(
    ctx: Context,
    host: HostFacts,
    units: tuple[str, ...],
    fallback: tuple[str, ...],
    probes: list[Probe] | None = None,
) -> Step:
    """Restart the units whose loaded code changed on disk since they started.

    The commands read unit PIDs and package install times; at run time the engine reads
    each unit's processes (drivers/loaded.py: a mapped file replaced; for a Python
    interpreter, its script or modules of its version changed after it started; not
    when the file came back with the content the full upgrade's record says it had,
    drivers/digests.py) and restarts only those units, plus any that stopped since they
    were verified; a unit whose processes cannot be read is restarted when it started
    before a library package was installed (drivers/stale.py). On SysV hosts
    ``fallback``, the units the catalog knows break, are restarted instead. With
    ``probes`` (the host serves APIs), the step ends only once they answer again.
    """
    detect = host.init == "systemd"
    commands = (
        (show_units_command(units), install_times_command(host.package_manager))
        if detect
        else services.unit_action(host.init, "restart", fallback)
    )
    what = "restart units whose loaded code changed since they started"
    return _step(
        StepKind.RESTART_UNITS,
        f"restart/{host.name}/restart-units",
        what if detect else f"restart {', '.join(fallback) or 'nothing'} (no start times on SysV)",
        host=host.name,
        commands=commands,
        params=RestartParams(
            tuple(units),
            tuple(fallback),
            detect,
            tuple(ctx.series.library_packages),
            tuple(probes or []),
        ),
        restore=True,
    )


def reboot_check(host: HostFacts) -> Step:
    return _step(
        StepKind.REBOOT_CHECK,
        f"reboot/{host.name}/check",
        "does a new kernel need a reboot?",
        host=host.name,
        commands=kernels.reboot_check(host.family),
    )
