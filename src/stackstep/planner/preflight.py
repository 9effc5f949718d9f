"""What the preflight step of one host checks, as data (the engine runs it).

Per host: reachable and sudo (the connection), free space under ``/var`` and the package
cache, the target repository reachable (drivers/repocheck.py), every service it runs
healthy *before* anything is stopped (its enabled units active, the API probe and the
inventory's smoke commands on the probe host), the installed code's own
``<svc>-status upgrade check`` on the migration host (modern releases), and the problems
the facts alone show: packages of one service at different versions across its hosts.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import translate

from stackstep.drivers.repocheck import repo_check
from stackstep.drivers.versions import version_key
from stackstep.model.catalog import Family
from stackstep.model.facts import HostFacts
from stackstep.model.hostrange import compress
from stackstep.model.params import Behind, PreflightParams, Probe, RepoCheck, ServiceCheck
from stackstep.planner.context import Context, Placement

MIN_FREE_GIB = 1.0


def probe_data(ctx: Context, pl: Placement, host: HostFacts) -> Probe | None:
    """The service's API probe when ``host`` is where it answers, else None."""
    probe = pl.service.probe
    on_probe_host = pl.service.probe_on is None or any(
        c.name == pl.service.probe_on for c in pl.components_on(host)
    )
    if probe is None or not on_probe_host:
        return None
    path = probe.path_for(host.family)
    address = ctx.address(host.name)
    if ":" in address:  # an IPv6 address is bracketed in a URL (RFC 3986)
        address = f"[{address}]"
    return Probe(f"{probe.scheme}://{address}:{probe.port}{path}", tuple(probe.expect))


def smoke_commands(ctx: Context, pl: Placement) -> tuple[str, ...]:
    """The inventory's smoke commands for this service (under any of its names)."""
    return tuple(c for name in pl.service.names for c in ctx.inventory.smoke.get(name, ()))


def runs_smoke(ctx: Context, pl: Placement, host: HostFacts, has_probe: bool) -> bool:
    """Smoke commands run on the probe host, or the first host when there is no probe."""
    if not smoke_commands(ctx, pl):
        return False
    return has_probe or (pl.service.probe is None and host.name == pl.hosts[0].name)


def _service_checks(ctx: Context, host: HostFacts) -> list[ServiceCheck]:
    out: list[ServiceCheck] = []
    for pl in ctx.placements:
        if not pl.runs_on(host):
            continue
        units = pl.stop_units(host)  # what runs now, before the upgrade
        if host.units:  # discovery: only what is enabled or active is meant to run
            units = tuple(u for u in units if u in host.units)
        probe = probe_data(ctx, pl, host)
        smoke = smoke_commands(ctx, pl) if runs_smoke(ctx, pl, host, probe is not None) else None
        entry = ServiceCheck(pl.service.name, tuple(units), probe, smoke)
        migrate_here = pl.migrate_host is not None and pl.migrate_host.name == host.name
        if pl.service.upgrade_check and migrate_here:
            user = next((h.user for h in pl.service.migrate if h.user), None)
            entry = replace(entry, upgrade_check=tuple(pl.service.upgrade_check), user=user)
        out.append(entry)
    return out


def mixed_versions(ctx: Context) -> dict[str, list[Behind]]:
    """Per host, the packages of a service that discovery found older there than on
    another host running the same service: ``{service, package, have, newest, on}``.
    The preflight step checks them again when it runs (the operator may have updated
    them since), so a resumed run does not stop on a problem already fixed."""
    found: dict[str, list[Behind]] = {}
    for pl in ctx.placements:
        by_package: dict[str, dict[str, list[str]]] = {}
        ours: dict[Family, set[str]] = {}  # per family: the installed names the globs match
        for family in {h.family for h in pl.hosts if h.versions}:
            globs = pl.service.packages.get(family)
            pattern = re.compile("|".join(translate(g) for g in globs)) if globs else None
            names = set().union(*(h.versions for h in pl.hosts if h.family == family))
            ours[family] = {n for n in names if pattern is not None and pattern.match(n)}
        for host in pl.hosts:
            for name in ours.get(host.family, set()) & host.versions.keys():
                version = host.versions[name]
                by_package.setdefault(name, {}).setdefault(version, []).append(host.name)
        for name, versions in sorted(by_package.items()):
            if len(versions) < 2:
                continue
            family = pl.hosts[0].family
            newest = max(versions, key=lambda v: version_key(family, v))
            on = ", ".join(compress(versions[newest]))
            for version, hosts in versions.items():
                if version == newest:
                    continue
                for h in hosts:
                    late = Behind(pl.service.name, name, version, newest, on)
                    found.setdefault(h, []).append(late)
    return found


def preflight_data(ctx: Context, host: HostFacts, behind: list[Behind]) -> PreflightParams:
    """The step's parameters; ``repository`` holds the check's argv unless it cannot be
    judged (None); ``checks`` names what is checked, for the step's title."""
    argv = ctx.inventory.repo_command or ctx.series.repo.argv(host.family, ctx.target)
    check = repo_check(argv, host.package_manager)
    services = tuple(_service_checks(ctx, host))
    declared = ctx.declared(host.name)
    checks = ["ssh", "sudo" if declared is None or declared.become else "", "disk space"]
    checks += ["target repository"] if check is not None else []
    if services:
        checks.append(f"{len(services)} service(s) healthy")
    if behind:
        checks.append(f"{len(behind)} package(s) behind other hosts")
    return PreflightParams(
        MIN_FREE_GIB,
        services,
        "warn" if ctx.options.force else "block",
        host.family,
        tuple(behind),
        None if check is None else RepoCheck(check.what, tuple(check.command.reveal())),
        tuple(c for c in checks if c),
    )
