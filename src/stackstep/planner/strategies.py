"""The two strategies: one service at a time (the seed), or everything at once."""

from __future__ import annotations

from itertools import groupby

from stackstep.model.facts import HostFacts
from stackstep.model.plan import Group, Node, Step
from stackstep.planner import steps
from stackstep.planner.context import Context, Placement
from stackstep.planner.preflight import mixed_versions, probe_data


def par_group(
    gid: str,
    title: str,
    children: list[Step] | list[Node],
    limit: int | None,
    service: str | None = None,
) -> Group:
    return Group(gid, title, "parallel", tuple(children), limit, service)


def seq_group(gid: str, title: str, children: list[Node], service: str | None = None) -> Group:
    return Group(gid, title, "sequential", tuple(children), None, service)


def common_head(ctx: Context) -> list[Node]:
    hosts = list(ctx.facts.hosts)
    known = mixed_versions(ctx)
    repo: list[Node] = [
        par_group(
            "repo/enable",
            f"enable the {ctx.target.name} repository",
            [steps.enable_repo(ctx, h) for h in hosts],
            ctx.limit,
        )
    ]
    if ctx.options.prefetch:
        repo.append(
            par_group(
                "repo/prefetch",
                "download packages ahead of the outages",
                [steps.prefetch(ctx, h) for h in hosts],
                ctx.limit,
            )
        )
    return [
        par_group(
            "preflight",
            "preflight: every problem at once",
            [steps.preflight(ctx, h, known.get(h.name)) for h in hosts],
            ctx.limit,
        ),
        seq_group("repo", f"before: {ctx.target.name} packages on every host", repo),
    ]


def service_hooks(pl: Placement, phase: str, before_stop: bool = False) -> list[Node]:
    """The service's hooks of ``phase``; for pre_upgrade, those the catalog marks
    ``before_stop`` (run before the outage) or the others (after the stop)."""
    out: list[Node] = []
    for spec in getattr(pl.service, phase):
        if phase == "pre_upgrade" and spec.before_stop != before_stop:
            continue
        targets = [pl.migrate_host] if spec.where == "migrate-host" else list(pl.hosts)
        built = [steps.hook(pl, h, spec, phase) for h in targets if h is not None]
        if len(built) == 1:
            out.append(built[0])
        elif built:
            out.append(
                par_group(
                    f"services/{pl.service.name}/{spec.name}",
                    spec.description,
                    built,
                    None,
                    pl.service.name,
                )
            )
    return out


def _backup(ctx: Context, pl: Placement) -> Step | None:
    host = pl.migrate_host
    if host is None or not ctx.options.backup:
        return None
    return steps.backup_db(pl, host)


def _backup_beside(pl: Placement) -> bool:
    """The backup can run beside the package upgrade (inside the outage, the service is
    stopped, so the dump is consistent) unless a post-upgrade hook may write the config
    file the backup reads its database URL from (neutron's plugin.ini is a link made
    after the upgrade)."""
    return not pl.service.post_upgrade


def _db(ctx: Context, pl: Placement, backup_done: bool = False) -> list[Node]:
    """Upgrade check, backup (unless it ran beside the upgrade), migration: the
    migration waits for the backup, whichever group it ran in."""
    host = pl.migrate_host
    if host is None:
        return []
    found = [
        steps.upgrade_check(pl, host),
        None if backup_done else _backup(ctx, pl),
        steps.migrate_db(pl, host),
    ]
    return [s for s in found if s is not None]


def _upgrade(ctx: Context, pl: Placement) -> tuple[list[Node], bool]:
    """The package upgrade of a service, with its database backup beside it when that is
    safe (``_backup_beside``); returns the nodes and whether the backup is among them."""
    name = pl.service.name
    upgrade = par_group(
        f"services/{name}/upgrade",
        f"upgrade {name} packages",
        [steps.upgrade_packages(pl, h, ctx.options.prefetch) for h in pl.hosts],
        ctx.limit,
        name,
    )
    backup = _backup(ctx, pl)
    if backup is None or not _backup_beside(pl):
        return [upgrade], False
    children: list[Node] = [upgrade, backup]
    both = par_group(
        f"services/{name}/upgrade-and-backup",
        f"upgrade {name} packages and back up its database at once",
        children,
        None,
        name,
    )
    return [both], True


def _start_waves(ctx: Context, pl: Placement) -> list[Node]:
    """Start components in ``start_order`` waves (conductor first, API last)."""
    name = pl.service.name
    per_host = [(c.start_order, h, c) for h in pl.hosts for c in pl.components_on(h)]
    orders = sorted({o for o, _, _ in per_host})
    waves: list[Node] = []
    for index, order in enumerate(orders, start=1):
        suffix = f"-{index}" if len(orders) > 1 else ""
        wave: list[Step] = []
        for host, items in groupby([x for x in per_host if x[0] == order], key=lambda x: x[1]):
            units = tuple(dict.fromkeys(u for _, _, c in items for u in c.units.get(host.family)))
            wave.append(steps.start_units(pl, host, units, suffix))
        waves.append(
            par_group(
                f"services/{name}/start{suffix}",
                f"start {name}" + (f" (wave {index}/{len(orders)})" if suffix else ""),
                wave,
                ctx.limit,
                name,
            )
        )
    return waves


def service_group(ctx: Context, pl: Placement) -> Group:
    """Pre-upgrade hooks that need no stop, stop, the other pre-upgrade hooks, upgrade
    (the backup beside it), post-upgrade hooks,
    upgrade check, backup (if not beside), migration, start waves, verify, post-start."""
    name = pl.service.name
    upgrade, backed_up = _upgrade(ctx, pl)
    children: list[Node] = [
        *service_hooks(pl, "pre_upgrade", before_stop=True),
        par_group(
            f"services/{name}/stop",
            f"stop {name}",
            [steps.stop_units(pl, h) for h in pl.hosts],
            ctx.limit,
            name,
        ),
        *service_hooks(pl, "pre_upgrade"),
        *upgrade,
        *service_hooks(pl, "post_upgrade"),
        *_db(ctx, pl, backed_up),
        *_start_waves(ctx, pl),
        par_group(
            f"services/{name}/verify",
            f"verify {name} (gate: the next service waits)",
            [steps.verify(ctx, pl, h) for h in pl.hosts],
            ctx.limit,
            name,
        ),
        *service_hooks(pl, "post_start"),
    ]
    return seq_group(f"services/{name}", pl.service.title, children, name)


def _config_dirs(ctx: Context, host: HostFacts) -> tuple[str, ...]:
    dirs = [d for pl in ctx.placements if pl.runs_on(host) for d in pl.service.config_dirs]
    return tuple(dict.fromkeys(dirs))


def tail_phase(ctx: Context, final_upgrade: bool) -> list[Node]:
    hosts = list(ctx.facts.hosts)
    collect = [steps.collect_configs(ctx, h, dirs) for h in hosts if (dirs := _config_dirs(ctx, h))]
    out: list[Node] = [
        par_group("configs", "after: review config files set aside", collect, ctx.limit)
    ]
    if final_upgrade:
        out.append(
            par_group(
                "final",
                "after: full package upgrade on every host",
                [steps.full_upgrade(h) for h in hosts],
                ctx.limit,
            )
        )
        out.append(_restart_group(ctx, hosts))
    out.append(
        par_group(
            "reboot",
            "after: find hosts that need a reboot",
            [steps.reboot_check(h) for h in hosts],
            ctx.limit,
        )
    )
    return out


def _restart_group(ctx: Context, hosts: list[HostFacts]) -> Group:
    """Restart stale units: hosts serving an API one at a time, each waiting for its APIs
    to answer again (HA controllers never all restart at once), then the others."""
    api: list[Step] = []
    rest: list[Step] = []
    for h in hosts:
        units, fallback = _openstack_units(ctx, h), _known_to_break(ctx, h)
        if not units or (h.init != "systemd" and not fallback):
            continue
        probes = [p for pl in ctx.placements if pl.runs_on(h) and (p := probe_data(ctx, pl, h))]
        step = steps.restart_stale(ctx, h, units, fallback, probes)
        (api if probes else rest).append(step)
    title = "after: restart what the new libraries broke"
    if not api:
        return par_group("restart", title, rest, ctx.limit)
    return seq_group(
        "restart",
        title,
        [
            par_group(
                "restart/api",
                "hosts serving an API, one at a time (each until its APIs answer)",
                api,
                1,
            ),
            par_group("restart/others", "the other hosts", rest, ctx.limit),
        ],
    )


def _openstack_units(ctx: Context, host: HostFacts) -> tuple[str, ...]:
    """Every unit the plan starts on ``host``: the candidates for a stale-code restart."""
    return tuple(dict.fromkeys(u for pl in ctx.placements for u in pl.start_units(host)))


def _known_to_break(ctx: Context, host: HostFacts) -> tuple[str, ...]:
    """Units the catalog says break on new libraries (restarted when detection cannot run)."""
    units = [
        u
        for pl in ctx.placements
        for c in pl.components_on(host)
        if c.restart_after_final_upgrade
        for u in c.units.get(host.family)
    ]
    return tuple(dict.fromkeys(units))


def service_by_service(ctx: Context) -> Group:
    services = [service_group(ctx, pl) for pl in ctx.placements]
    children = [
        *common_head(ctx),
        seq_group("services", "services, one at a time", list(services)),
        *tail_phase(ctx, final_upgrade=True),
    ]
    return seq_group("plan", "upgrade", children)


def all_at_once(ctx: Context) -> Group:
    """Scenario 1: stop everything, upgrade everything, migrate, start everything."""
    hosts = list(ctx.facts.hosts)
    stops = [_stop_all(ctx, h) for h in hosts]
    body: list[Node] = [n for pl in ctx.placements for n in service_hooks(pl, "pre_upgrade", True)]
    body.append(
        par_group("all/stop", "stop every OpenStack service", [s for s in stops if s], ctx.limit)
    )
    body += [n for pl in ctx.placements for n in service_hooks(pl, "pre_upgrade")]
    # the backups stay after the full upgrade here: it may upgrade (and restart) the
    # database server itself, which would cut a dump running beside it
    body.append(
        par_group(
            "all/upgrade",
            "upgrade every package on every host",
            [steps.full_upgrade(h, ctx.options.prefetch) for h in hosts],
            ctx.limit,
        )
    )
    body += [n for pl in ctx.placements for n in service_hooks(pl, "post_upgrade")]
    body += [n for pl in ctx.placements for n in _db(ctx, pl)]
    for pl in ctx.placements:
        name = pl.service.name
        body += _start_waves(ctx, pl)
        body.append(
            par_group(
                f"services/{name}/verify",
                f"verify {name}",
                [steps.verify(ctx, pl, h) for h in pl.hosts],
                ctx.limit,
                name,
            )
        )
        body += service_hooks(pl, "post_start")
    children = [
        *common_head(ctx),
        seq_group("all", "every service at once", body),
        *tail_phase(ctx, final_upgrade=False),
    ]
    return seq_group("plan", "upgrade", children)


def _stop_all(ctx: Context, host: HostFacts) -> Step | None:
    units = [u for pl in reversed(ctx.placements) if pl.runs_on(host) for u in pl.stop_units(host)]
    if not units:
        return None
    step = steps.stop_units(ctx.placements[0], host, tuple(dict.fromkeys(units)))
    return Step(
        f"all/{host.name}/stop-units",
        step.kind,
        "stop every OpenStack unit",
        host.name,
        None,
        step.commands,
        step.params,
        False,
        step.timeout,
    )
