"""Preflight: every check of one host (the plan's preflight step), all of them run, every
finding kept, so that the operator sees every problem at once, each with its fix.

The step's data says what to check (planner/preflight.py). Nothing here changes a host:
``df``, ``systemctl is-active``, GET on the API, the inventory's smoke commands, the
repository check (drivers/repocheck.py) and ``<svc>-status upgrade check`` only read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from stackstep.drivers import packages
from stackstep.drivers.disk import DiskSpace, df_command, parse_df
from stackstep.drivers.versions import version_key
from stackstep.engine import balancer
from stackstep.engine.health import api_probe, inits, smoke_check, units_active
from stackstep.errors import PrivilegeError, StepFailed, TransportError
from stackstep.model.command import as_user, cmd
from stackstep.model.facts import Facts
from stackstep.model.inventory import Host, InitSystem
from stackstep.model.params import LbWaitParams, PreflightParams, RepoCheck, ServiceCheck
from stackstep.model.plan import Json, Plan, Step, StepKind
from stackstep.transport.base import Result, Transport
from stackstep.transport.factory import TransportPool

Severity = Literal["problem", "warning"]
PROBE_TIMEOUT = 10.0  # the service should already answer: no long wait before the upgrade
CHECK_TIMEOUT = 120.0
UPGRADE_CHECK_EXIT = {1: "warning", 2: "problem"}


@dataclass(frozen=True)
class Finding:
    host: str | None
    check: str  # ssh, sudo, disk-space, repository, service-health, upgrade-check, versions...
    severity: Severity
    message: str
    fix: str

    def to_json(self) -> dict[str, Json]:
        return {
            "host": self.host,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


def grouped(findings: list[Finding]) -> list[tuple[Finding, list[str]]]:
    """Findings alike but for their host, together (200 computes with a full /var are
    one line): each first finding with the hosts it was found on, problems first."""
    alike: dict[tuple[str, str, str, str], tuple[Finding, list[str]]] = {}
    for f in sorted(findings, key=lambda f: f.severity != "problem"):
        key = (f.severity, f.check, f.message, f.fix)
        alike.setdefault(key, (f, []))[1].extend([f.host] if f.host else [])
    return list(alike.values())


def from_json(data: Json) -> list[Finding]:
    """Findings as a preflight step journals them (``data.findings``)."""
    out = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and item.get("severity") in ("problem", "warning"):
            host = item.get("host")
            severity: Severity = "problem" if item["severity"] == "problem" else "warning"
            out.append(
                Finding(
                    str(host) if host else None,
                    str(item.get("check")),
                    severity,
                    str(item.get("message")),
                    str(item.get("fix")),
                )
            )
    return out


OnResult = Callable[[Result], None]


def _params(step: Step) -> PreflightParams:
    params = step.params
    return (
        params if isinstance(params, PreflightParams) else PreflightParams(1.0, (), "block", "rpm")
    )


async def check_host(
    step: Step, transport: Transport, host: Host, init: InitSystem, on_result: OnResult
) -> list[Finding]:
    """Every finding on ``step.host``; [] when it is ready. ``init``: what its units are
    checked with (health.init_of: discovery's, or the inventory's ``init:``)."""
    name = step.host
    try:
        first = await transport.run(cmd("true"), timeout=CHECK_TIMEOUT)
    except TransportError as exc:
        return [_unreachable(name, exc)]
    on_result(first)
    if not first.ok:
        fix = "let the ssh user run commands: fix sudo (NOPASSWD) or log in as root"
        tail = first.tail().strip().replace("\n", " | ")
        return [Finding(name, "sudo", "problem", f"cannot run commands: {tail}", fix)]
    found = await _disk(step, transport, on_result)
    found += await _versions(step, transport, host, on_result)
    found += await _repository(step, transport, on_result)
    for service in _params(step).services:
        found += await _service(step, service, transport, host, init, on_result)
    return found


def _unreachable(host: str | None, exc: TransportError) -> Finding:
    if isinstance(exc, PrivilegeError):
        fix = exc.hint or "let the ssh user run commands with sudo -n (NOPASSWD)"
        return Finding(host, "sudo", "problem", exc.message, fix)
    fix = exc.hint or "check the address, that sshd runs there, and the ssh user and key"
    return Finding(host, "ssh", "problem", f"unreachable: {exc.message}", fix)


async def _disk(step: Step, transport: Transport, on_result: OnResult) -> list[Finding]:
    minimum = _params(step).min_free_gib
    result = await transport.run(df_command(), timeout=CHECK_TIMEOUT)
    on_result(result)
    low: dict[str, list[DiskSpace]] = {}
    for space in parse_df(result.stdout):
        if space.available_gib < minimum:
            low.setdefault(space.mount, []).append(space)
    return [
        Finding(
            step.host,
            "disk-space",
            "problem",
            f"low disk space: {', '.join(s.path for s in spaces)} ({mount}) has "
            f"{spaces[0].available_gib:.2f} GiB free, {minimum:g} GiB needed",
            f"free space on {mount} (package caches: dnf/yum clean all, apt-get clean; "
            "old kernels; logs)",
        )
        for mount, spaces in low.items()
    ]


async def _versions(
    step: Step, transport: Transport, host: Host, on_result: OnResult
) -> list[Finding]:
    """Packages discovery found behind the service's other hosts: still behind now?"""
    late = _params(step).behind
    if not late:
        return []
    family = _params(step).family
    pm = host.package_manager or ("apt" if family == "deb" else "yum")
    names = sorted({e.package for e in late})
    result = await transport.run(packages.installed_command(pm, names), timeout=CHECK_TIMEOUT)
    on_result(result)
    now = packages.parse_installed(pm, result.stdout)
    still: dict[str, list[str]] = {}
    for e in late:
        have = now.get(e.package)
        if have is not None and version_key(family, have) >= version_key(family, e.newest):
            continue
        still.setdefault(e.service, []).append(
            f"{e.package} {have or 'not installed'} ({e.on}: {e.newest})"
        )
    return [
        Finding(
            step.host,
            "versions",
            "problem",
            f"{service} is at an older version here than on its other hosts: "
            + "; ".join(items[:3])
            + (f"; and {len(items) - 3} more" if len(items) > 3 else ""),
            f"bring {service} to one version on every host first (update these packages "
            "here), then run preflight again",
        )
        for service, items in still.items()
    ]


async def _repository(step: Step, transport: Transport, on_result: OnResult) -> list[Finding]:
    repository = _params(step).repository or RepoCheck("the target repository answers", ())
    argv, what = list(repository.argv), repository.what
    if argv:
        result = await transport.run(cmd(*argv), timeout=CHECK_TIMEOUT)
        on_result(result)
        if not result.ok:
            tail = result.tail().strip().splitlines()[-1:] or [f"exit {result.exit_status}"]
            return [
                Finding(
                    step.host,
                    "repository",
                    "problem",
                    f"target repository unreachable: expected {what}; {tail[0]}",
                    "check the host's proxy, DNS and repository files (or the inventory's "
                    "repo_command), then run preflight again",
                )
            ]
    return []


async def _service(
    step: Step,
    service: ServiceCheck,
    transport: Transport,
    host: Host,
    init: InitSystem,
    on_result: OnResult,
) -> list[Finding]:
    name = service.service
    severity: Severity = "warning" if _params(step).unhealthy == "warn" else "problem"
    found: list[Finding] = []
    units = list(service.units)
    states = await units_active(transport, init, units, CHECK_TIMEOUT)
    down = [u for u, up in zip(units, states, strict=True) if not up]
    fix = _unhealthy_fix(severity, down or units)
    if down:
        message = f"{name} is not healthy before the upgrade: not running: {', '.join(down)}"
        found.append(Finding(step.host, "service-health", severity, message, fix))
    probe = service.probe
    if probe is not None and not down:
        url, expect = probe.url, list(probe.expect)
        ok, detail = await api_probe(transport, host, url, expect, PROBE_TIMEOUT)
        if not ok:
            message = f"{name} is not healthy before the upgrade: API probe failed: {detail}"
            found.append(Finding(step.host, "service-health", severity, message, fix))
    for command in () if down else service.smoke or ():
        ok, detail = await smoke_check(transport, command, PROBE_TIMEOUT, on_result)
        if not ok:
            message = f"{name} is not healthy before the upgrade: {detail}"
            found.append(Finding(step.host, "service-health", severity, message, fix))
    argv = list(service.upgrade_check or ())
    if argv:
        found += await _upgrade_check(step, name, argv, service.user, transport, on_result)
    return found


def _unhealthy_fix(severity: Severity, units: list[str]) -> str:
    if severity == "warning":
        return "--force: the upgrade goes on; its health gate fails if it is still down"
    logs = " ".join(f"-u {u}" for u in units) or "-u UNIT"
    return (
        f"find out why (journalctl {logs}) and bring it back, or pass --force to "
        "upgrade a cloud that is already unhealthy"
    )


async def _upgrade_check(
    step: Step,
    name: str,
    argv: list[str],
    user: Json,
    transport: Transport,
    on_result: OnResult,
) -> list[Finding]:
    """``<svc>-status upgrade check`` with the installed code: 0 ok, 1 warns, 2 blocks."""
    command = as_user(argv, str(user) if user else None)
    result = await transport.run(command, timeout=CHECK_TIMEOUT)
    on_result(result)
    shown = " ".join(argv)
    if result.exit_status == 0:
        return []
    tail = " | ".join(line.strip() for line in result.tail().splitlines()[-4:] if line.strip())
    severity = UPGRADE_CHECK_EXIT.get(result.exit_status)
    if severity is None:
        message = f"`{shown}` could not run (exit {result.exit_status}): {tail}"
        fix = f"run `{shown}` on the host and fix what it says, then run preflight again"
        return [Finding(step.host, "upgrade-check", "warning", message, fix)]
    label = "warnings" if severity == "warning" else "FAILURES"
    message = f"`{shown}` reports {label}: {tail}"
    fix = f"read `{shown}` on the host and fix what it reports"
    if severity == "warning":
        fix += " (the upgrade may go on)"
    return [Finding(step.host, "upgrade-check", severity, message, fix)]  # type: ignore[arg-type]


async def _load_balancer(step: Step, transport: Transport) -> list[Finding]:
    """The rolling plan's check of a load balancer: every server it will drain is UP."""
    params = step.params
    if not isinstance(params, LbWaitParams):
        return []
    try:
        await balancer.wait_in(
            transport, params.socket, params.pairs, float(params.timeout), step_id=step.id
        )
    except StepFailed as exc:
        return [Finding(step.host, "load-balancer", "problem", exc.message, exc.hint or "")]
    return []


async def preflight_hosts(
    plan: Plan, pool: TransportPool, hosts: Mapping[str, Host], facts: Facts, limit: int
) -> list[Finding]:
    """Run every host's preflight step of ``plan`` (at most ``limit`` at once) outside a
    run: the findings of all hosts, in plan order. Changes nothing, journals nothing.
    ``facts``: what the plan was built from (each host's init system)."""
    gate = asyncio.Semaphore(limit)
    init = inits(hosts.values(), facts)
    steps = [
        s
        for s in plan.steps()
        if s.host in hosts
        and (
            s.kind == StepKind.PREFLIGHT
            or (s.kind == StepKind.LB_WAIT and s.id.startswith("preflight/"))
        )
    ]

    async def one(step: Step) -> list[Finding]:
        host = hosts[str(step.host)]
        async with gate:
            try:
                transport = await pool.get(host)
            except TransportError as exc:
                return [_unreachable(host.name, exc)]
            try:
                if step.kind == StepKind.LB_WAIT:
                    return await _load_balancer(step, transport)
                return await check_host(step, transport, host, init[host.name], lambda r: None)
            except TransportError as exc:
                return [_unreachable(host.name, exc)]

    found = await asyncio.gather(*(one(s) for s in steps))
    return [f for per_host in found for f in per_host]
