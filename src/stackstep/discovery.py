"""Discovery: connect to every host at once and read what it runs. Read-only.

Per host: OS and package family (``/etc/os-release``, else ``/etc/redhat-release``),
init system, the service units the catalog knows plus ``openstack-service``'s
(``openstack-*``, ``neutron-*``, ``quantum-*``, httpd/apache2) with enabled/active
state, installed packages, running and newest installed kernel. Each read is a command
plus a pure parser from ``stackstep.drivers``; reads that do not need each other's
answer are asked together and go to the host as one shell script (on a busy host a
command's SSH session and processes cost more than the read), and every host is read
at once (at most ``--parallel``). Two rounds per host: the OS and init system, then
what depends on them (units and their state, packages, kernels); one round when the
inventory already names the host's package manager and init system. A host that cannot
be reached is reported, not raised: the caller decides (``discover`` shows it;
``upgrade`` stops).
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from collections.abc import Awaitable, Sequence
from typing import Any

from stackstep.drivers import detect, dpkg, kernels, rpm, systemd, sysv
from stackstep.errors import TransportError
from stackstep.model.catalog import Catalog, Family
from stackstep.model.command import Command, cmd
from stackstep.model.facts import Discovered, UnitInfo
from stackstep.model.inventory import Host, InitSystem, PackageManager
from stackstep.planner.facts import FAMILY_OF
from stackstep.transport.base import Result, Transport
from stackstep.transport.factory import TransportPool

TIMEOUT = 60.0
QUIET_PASSES = 3  # event-loop passes with no new read before a batch goes: reads asked
# together from nested gathers reach the queue one pass per level of nesting
EXTRA_PATTERNS = ("openstack-*", "neutron-*", "quantum-*", "httpd.service", "apache2.service")


def catalog_units(catalog: Catalog, family: Family) -> list[str]:
    names: set[str] = set()
    for series in catalog.series:
        for service in series.services:
            for component in service.components:
                names.update(component.units.get(family))
                names.update(component.units_to_stop(family))
    return sorted(names)


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Run reads side by side on the host's one connection (one round trip instead of
    several: each command costs an SSH channel and a process on the host). The first
    failure is raised as it is; the other reads are cancelled."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Batched:
    """Reads asked for at the same moment go to the host as one ``sh -c`` script: one
    SSH session and one shell instead of one each (on a busy host most of a read's time).
    Each read answers as if run alone: its exit status and its output. When the answer
    does not come back in that shape, the reads run one by one instead."""

    def __init__(self, transport: Transport) -> None:
        self.host = transport.host
        self._transport = transport
        self._queue: list[tuple[Command, asyncio.Future[Result]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        if stdin is not None:
            return await self._transport.run(command, timeout=timeout, stdin=stdin)
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((command, answer))
        if len(self._queue) == 1:
            task = asyncio.ensure_future(self._send())
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return await answer

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        await self._transport.put(data, path, mode)

    async def get(self, path: str) -> bytes:
        return await self._transport.get(path)

    async def close(self) -> None:
        await self._transport.close()

    async def _send(self) -> None:
        waiting, quiet = -1, 0
        while quiet < QUIET_PASSES:  # until the reads asked for together are in
            quiet = quiet + 1 if waiting == len(self._queue) else 0
            waiting = len(self._queue)
            await asyncio.sleep(0)
        batch, self._queue = self._queue, []
        try:
            replies = await self._replies([command for command, _ in batch])
        except BaseException as exc:  # the host is gone, a timeout: every read gets it
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), reply in zip(batch, replies, strict=True):
            if not answer.done():
                answer.set_result(reply)

    async def _replies(self, commands: list[Command]) -> list[Result]:
        mark = f"stackstep-{secrets.token_hex(8)}"
        if len(commands) > 1:
            script = "".join(
                f"{shlex.join(_argv(c))} </dev/null; printf '\\n%s %s\\n' {mark} \"$?\"; "
                for c in commands
            )
            result = await self._transport.run(
                cmd("sh", "-c", script), timeout=TIMEOUT * len(commands)
            )
            parts = result.stdout.split(f"\n{mark} ")
            statuses = [p.partition("\n")[0] for p in parts[1:]]
            if len(parts) == len(commands) + 1 and all(s.isdigit() for s in statuses):
                outputs = [parts[0], *(p.partition("\n")[2] for p in parts[1:-1])]
                return [
                    Result(self.host, c.render(), int(status), out, "", result.duration)
                    for c, status, out in zip(commands, statuses, outputs, strict=True)
                ]
        return list(await _together(*(self._transport.run(c, timeout=TIMEOUT) for c in commands)))


def _argv(command: Command) -> list[str]:
    env = [f"{key}={value}" for key, value in command.env]
    return ["env", *env, *command.reveal()] if env else command.reveal()


async def _text(transport: Transport, *argv: str) -> tuple[int, str]:
    result = await transport.run(cmd(*argv), timeout=TIMEOUT)
    return result.exit_status, result.stdout


async def _os(transport: Transport, host: Host) -> tuple[str, Family, PackageManager]:
    status, text = await _text(transport, "cat", "/etc/os-release")
    parsed = detect.parse_os_release(text) if status == 0 else None
    if parsed is None or not parsed.id:
        status, text = await _text(transport, "cat", "/etc/redhat-release")
        parsed = detect.parse_redhat_release(text) if status == 0 else None
    if parsed is None:
        raise ValueError("neither /etc/os-release nor /etc/redhat-release is readable")
    family, pm = detect.family_of(parsed)
    if host.package_manager:
        pm, family = host.package_manager, FAMILY_OF[host.package_manager]
    return parsed.pretty_name or parsed.id, family, pm


async def _init(transport: Transport, host: Host) -> InitSystem:
    if host.init:
        return host.init
    status, _ = await _text(transport, "test", "-d", "/run/systemd/system")
    return "systemd" if status == 0 else "sysv"


async def _systemd_units(transport: Transport, wanted: Sequence[str]) -> tuple[UnitInfo, ...]:
    """The unit files matching the catalog's units and the OpenStack patterns, and the
    loaded units matching them with their state, asked together (one round trip; a
    unit file that is not loaded is not running). (``systemctl show`` of the units
    found would need a second round and costs the host a D-Bus call per unit: on a lab
    of containers sharing two cores, the host's work is what a round costs.)"""
    patterns = [*EXTRA_PATTERNS, *(f"{u}.service" for u in wanted)]
    listed, loaded = await _together(
        transport.run(systemd.list_units_command(patterns), timeout=TIMEOUT),
        transport.run(systemd.list_loaded_command(patterns), timeout=TIMEOUT),
    )
    files = systemd.parse_unit_files(listed.stdout)
    active = systemd.parse_list_units(loaded.stdout)
    return tuple(
        UnitInfo(
            unit.removesuffix(".service"),
            systemd.enabled_state(state),
            # an alias is listed under the unit it names: its state is unknown here
            None if state == "alias" else active.get(unit, "inactive") == "active",
        )
        for unit, state in sorted(files.items())
    )


async def _sysv_units(transport: Transport, wanted: Sequence[str]) -> tuple[UnitInfo, ...]:
    _, text = await _text(transport, "chkconfig", "--list")
    enabled = sysv.parse_chkconfig_list(text)
    names = sorted(n for n in enabled if n in wanted or systemd.is_openstack_unit(n))
    results = await _together(
        *(transport.run(sysv.status_command(name), timeout=TIMEOUT) for name in names)
    )
    return tuple(
        UnitInfo(name, enabled[name], sysv.parse_sysv_status(result.exit_status, result.stdout))
        for name, result in zip(names, results, strict=True)
    )


async def _packages_and_kernels(
    transport: Transport, family: Family
) -> tuple[dict[str, str], str, list[str]]:
    if family == "rpm":
        (_, text), result, (_, running) = await _together(
            _text(transport, *rpm.rpm_qa_command(()).reveal()),
            transport.run(kernels.rpm_kernels_command(), timeout=TIMEOUT),
            _text(transport, "uname", "-r"),
        )
        packages = {n: p.version for n, p in rpm.parse_rpm_qa(text).items()}
        installed = kernels.parse_rpm_last(result.stdout)
    else:
        (_, text), (_, listing), (_, running) = await _together(
            _text(transport, *dpkg.dpkg_query_command(()).reveal()),
            _text(transport, "ls", "/boot"),
            _text(transport, "uname", "-r"),
        )
        packages = {n: p.version for n, p in dpkg.parse_dpkg_query(text).items()}
        installed = kernels.parse_boot_listing(listing)
    return packages, running.strip(), installed


async def _units_and_packages(
    transport: Transport, catalog: Catalog, family: Family, init: InitSystem
) -> tuple[tuple[UnitInfo, ...], tuple[dict[str, str], str, list[str]]]:
    read_units = _systemd_units if init == "systemd" else _sysv_units
    units, packages = await _together(
        read_units(transport, catalog_units(catalog, family)),
        _packages_and_kernels(transport, family),
    )
    return units, packages


async def discover_host(host: Host, transport: Transport, catalog: Catalog) -> Discovered:
    try:
        if host.package_manager and host.init:  # what round one would find: ask all at once
            family = FAMILY_OF[host.package_manager]
            (os_name, _, pm), (units, (packages, running, installed)) = await _together(
                _os(transport, host), _units_and_packages(transport, catalog, family, host.init)
            )
            init: InitSystem = host.init
        else:
            (os_name, family, pm), init = await _together(
                _os(transport, host), _init(transport, host)
            )
            units, (packages, running, installed) = await _units_and_packages(
                transport, catalog, family, init
            )
    except TransportError as exc:
        return Discovered(host.name, host.address, False, exc.render())
    except ValueError as exc:
        return Discovered(host.name, host.address, True, f"{host.name}: {exc}")
    newest = kernels.newest_kernel(installed)
    return Discovered(
        host.name,
        host.address,
        True,
        None,
        os_name,
        family,
        pm,
        init,
        units,
        packages,
        running or None,
        newest,
        kernels.reboot_needed(running, installed) if running else None,
    )


async def discover(
    hosts: Sequence[Host], pool: TransportPool, catalog: Catalog, limit: int = 20
) -> list[Discovered]:
    """Every host at once (at most ``limit`` at a time), in inventory order."""
    gate = asyncio.Semaphore(limit)

    async def one(host: Host) -> Discovered:
        async with gate:
            return await discover_host(host, _Batched(await pool.get(host)), catalog)

    return list(await asyncio.gather(*(one(h) for h in hosts)))
