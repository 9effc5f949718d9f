"""One small builder per kind of step. Each returns a frozen Step with a stable id."""

from __future__ import annotations

from stackstep.drivers import kernels, leftovers, packages, services
from stackstep.drivers.stale import install_times_command
from stackstep.drivers.systemd import show_units_command
from stackstep.model.catalog import Hook
from stackstep.model.command import Command, as_user, cmd
from stackstep.model.facts import HostFacts
from stackstep.model.plan import Json, Step, StepKind
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
    data: dict[str, Json] | None = None,
    restore: bool = False,
) -> Step:
    return Step(
        step_id, kind, title, host, service, commands, data or {}, restore, TIMEOUTS[str(kind)]
    )


def preflight(ctx: Context, host: HostFacts, behind: list[Json] | None = None) -> Step:
    data = preflight_data(ctx, host, behind or [])
    declared = ctx.declared(host.name)
    checks = ["ssh", "sudo" if declared is None or declared.become else "", "disk space"]
    checks += ["target repository"] if "repository" in data else []
    services = data["services"]
    if isinstance(services, list) and services:
        checks.append(f"{len(services)} service(s) healthy")
    if behind:
        checks.append(f"{len(behind)} package(s) behind other hosts")
    data["checks"] = [c for c in checks if c]
    return _step(
        StepKind.PREFLIGHT,
        f"preflight/{host.name}/check",
        "check the host is ready: " + ", ".join(c for c in checks if c),
        host=host.name,
        data=data,
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
        data={"release": ctx.target.name},
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
        data={"units": list(units)},
    )


def upgrade_packages(pl: Placement, host: HostFacts) -> Step:
    globs = pl.service.packages.get(host.family)
    return _step(
        StepKind.UPGRADE_PACKAGES,
        f"services/{pl.service.name}/{host.name}/upgrade-packages",
        f"upgrade {pl.service.name} packages",
        host=host.name,
        service=pl.service.name,
        commands=packages.upgrade(host.package_manager, globs),
        data={"packages": list(globs)},
    )


def hook(pl: Placement, host: HostFacts, spec: Hook, phase: str) -> Step:
    commands = (as_user(spec.argv, spec.user),) if spec.kind == "command" else ()
    data: dict[str, Json] = {
        "hook": spec.name,
        "phase": phase,
        "hook_kind": spec.kind,
        "description": spec.description,
    }
    if spec.when is not None:
        data["when"] = {
            "argv": list(as_user(spec.when.argv, spec.when.user).to_json()),
            "output_matches": spec.when.output_matches,
        }
    if spec.params:
        data["params"] = {k: v if isinstance(v, str) else list(v) for k, v in spec.params.items()}
    return _step(
        StepKind.HOOK,
        f"services/{pl.service.name}/{host.name}/{spec.name}",
        spec.description,
        host=host.name,
        service=pl.service.name,
        commands=commands,
        data=data,
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
    data: dict[str, Json] = {
        "database": db.name,
        "config": db.config,
        "section": db.section,
        "key": db.key,
    }
    return _step(
        StepKind.BACKUP_DB,
        f"services/{pl.service.name}/{host.name}/backup-db",
        f"back up the {db.name} database (URL from {db.config} [{db.section}] {db.key})",
        host=host.name,
        service=pl.service.name,
        data=data,
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
        data={"hooks": [h.name for h in hooks]},
    )


def start_units(pl: Placement, host: HostFacts, units: tuple[str, ...], suffix: str = "") -> Step:
    return _step(
        StepKind.START_UNITS,
        f"services/{pl.service.name}/{host.name}/start-units{suffix}",
        f"start {pl.service.name}",
        host=host.name,
        service=pl.service.name,
        commands=services.unit_action(host.init, "start", units),
        data={"units": list(units)},
        restore=True,
    )


def verify(ctx: Context, pl: Placement, host: HostFacts) -> Step:
    units = pl.start_units(host)
    data: dict[str, Json] = {"units": list(units)}
    probe = probe_data(ctx, pl, host)
    if probe is not None:
        data["probe"] = probe
    smoke = smoke_commands(ctx, pl)
    if runs_smoke(ctx, pl, host, probe is not None):
        data["smoke"] = list(smoke)
    what = "units active" + (", API answers" if "probe" in data else "")
    if "smoke" in data:
        what += f", {len(smoke)} smoke check{'s' if len(smoke) > 1 else ''}"
    return _step(
        StepKind.VERIFY,
        f"services/{pl.service.name}/{host.name}/verify",
        f"verify {pl.service.name}: {what}",
        host=host.name,
        service=pl.service.name,
        commands=services.is_active(host.init, units),
        data=data,
    )


def collect_configs(ctx: Context, host: HostFacts, dirs: tuple[str, ...]) -> Step:
    suffixes = ctx.series.config_suffixes
    return _step(
        StepKind.COLLECT_CONFIGS,
        f"configs/{host.name}/collect",
        "list config files the package manager set aside",
        host=host.name,
        commands=(leftovers.find_leftovers(dirs, suffixes),),
        data={"dirs": list(dirs), "suffixes": list(suffixes)},
    )


def full_upgrade(host: HostFacts) -> Step:
    return _step(
        StepKind.FULL_UPGRADE,
        f"final/{host.name}/full-upgrade",
        "upgrade every remaining package (clients, libraries)",
        host=host.name,
        commands=packages.full_upgrade(host.package_manager),
    )


def restart_stale(
    ctx: Context,
    host: HostFacts,
    units: tuple[str, ...],
    fallback: tuple[str, ...],
    probes: list[dict[str, Json]] | None = None,
) -> Step:
    """Restart the units that run code older than their packages (drivers/stale.py).

    The commands read unit PIDs and package install times; the engine works out which
    units started before a library package was installed and restarts only those. On
    SysV hosts (no start times to compare) ``fallback``, the units the catalog knows
    break, are restarted instead. With ``probes`` (the host serves APIs), the step ends
    only once they answer again.
    """
    detect = host.init == "systemd"
    commands = (
        (show_units_command(units), install_times_command(host.package_manager))
        if detect
        else services.unit_action(host.init, "restart", fallback)
    )
    what = "restart units running code older than their packages"
    return _step(
        StepKind.RESTART_UNITS,
        f"restart/{host.name}/restart-units",
        what if detect else f"restart {', '.join(fallback) or 'nothing'} (no start times on SysV)",
        host=host.name,
        commands=commands,
        data={
            "units": list(units),
            "fallback": list(fallback),
            "detect_stale": detect,
            "library_packages": list(ctx.series.library_packages),
            "probes": list(probes or []),
        },
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
