"""Discovery reads side by side on a host's connection: the first failure is what the
user sees, and no read is left running behind it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from stackstep.discovery import _together
from stackstep.errors import TransportError


def test_reads_run_side_by_side_and_answer_in_order():
    started: list[str] = []

    async def read(name: str, delay: float) -> str:
        started.append(name)
        await asyncio.sleep(delay)
        return name

    async def main() -> list[str]:
        return await _together(read("slow", 0.05), read("fast", 0))

    assert asyncio.run(main()) == ["slow", "fast"]
    assert started == ["slow", "fast"]  # the second began before the first answered


def test_the_first_failure_is_raised_and_the_other_reads_are_cancelled():
    cancelled: list[str] = []

    async def hangs() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append("hangs")
            raise

    async def fails() -> None:
        raise TransportError("ctl", "connection lost")

    async def main() -> None:
        await _together(hangs(), fails())

    with pytest.raises(TransportError, match="connection lost"):
        asyncio.run(main())
    assert cancelled == ["hangs"]


class Recorder:
    """The local transport (this machine's real shell), recording what it is asked."""

    def __init__(self) -> None:
        from stackstep.model.inventory import Host
        from stackstep.transport.base import TransportOptions
        from stackstep.transport.local import LocalTransport

        self.inner = LocalTransport(Host("here", "127.0.0.1"), TransportOptions())
        self.host = "here"
        self.asked: list[str] = []
        self.garble = False

    async def run(self, command, *, timeout=None, stdin=None):
        self.asked.append(command.render())
        result = await self.inner.run(command, timeout=timeout, stdin=stdin)
        if self.garble and len(self.asked) == 1:  # the script's answer
            return replace(result, stdout="not what was asked for")
        return result


PLANTED = Path("/tmp/stackstep-discovery-pwned")


def _ask_together(transport) -> list:
    from stackstep.discovery import _Batched
    from stackstep.model.command import Command

    commands = [
        Command(("printf", "one\\ntwo")),  # no newline at the end
        Command(("sh", "-c", "echo out; exit 3")),
        Command(("printenv", "LC_ALL"), (("LC_ALL", "C"),)),
        Command(("cat", "/nonexistent")),
        Command(("echo", f"$(touch {PLANTED}); `touch {PLANTED}`")),
    ]

    async def main() -> list:
        batched = _Batched(transport)
        return await _together(*(batched.run(c) for c in commands))

    return asyncio.run(main())


ANSWERS = [
    (0, "one\ntwo"),
    (3, "out\n"),
    (0, "C\n"),
    (1, ""),
    (0, f"$(touch {PLANTED}); `touch {PLANTED}`\n"),
]


def test_reads_asked_together_are_one_command_and_answer_as_if_alone():
    recorder = Recorder()
    together = _ask_together(recorder)
    assert len(recorder.asked) == 1 and recorder.asked[0].startswith("sh -c ")
    assert [(r.exit_status, r.stdout) for r in together] == ANSWERS
    assert not PLANTED.exists()


def test_an_answer_in_another_shape_runs_the_reads_one_by_one():
    recorder = Recorder()
    recorder.garble = True
    together = _ask_together(recorder)
    assert len(recorder.asked) == 6  # the script, then each read alone
    assert [(r.exit_status, r.stdout) for r in together] == ANSWERS


# -- rounds: what the inventory already says is not asked first -------------------------

OS_RELEASE = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'


class Rounds:
    """Discovery's batching over a simulated host, counting the round trips it makes."""

    def __init__(self, units: str) -> None:
        from hostsim import SimHost
        from stackstep.discovery import _Batched

        sim = SimHost(
            "ctl",
            files={"/etc/os-release": OS_RELEASE},
            unit_files=units,
            packages="openstack-keystone 2024.1\npython3-keystone 2024.1\n",
        )
        sim.store.write("units/openstack-keystone", "inactive")  # its state must come through
        self.batched = _Batched(sim.transport())
        self.count = 0
        replies = self.batched._replies

        async def counted(commands):
            self.count += 1
            return await replies(commands)

        self.batched._replies = counted  # type: ignore[method-assign]

    def discover(self, **hints):
        from stackstep.catalog import load_catalog
        from stackstep.discovery import discover_host
        from stackstep.model.inventory import Host

        host = Host("ctl", "127.0.0.1", roles=("controller",), **hints)
        return asyncio.run(discover_host(host, self.batched, load_catalog(())))


@pytest.mark.parametrize(
    ("units", "rounds_plain", "rounds_hinted"),
    [
        ("openstack-keystone httpd", 2, 1),
        ("openstack-keystone openstack-extra-agent", 2, 1),  # one found by pattern only
    ],
)
def test_a_host_whose_inventory_names_its_tools_is_read_in_fewer_rounds(
    units, rounds_plain, rounds_hinted
):
    plain, hinted = Rounds(units), Rounds(units)
    found = plain.discover(package_manager="dnf")
    assert found == hinted.discover(package_manager="dnf", init="systemd")
    assert found.error is None and found.init == "systemd" and found.package_manager == "dnf"
    states = {u.name: (u.enabled, u.active) for u in found.units}
    assert states["openstack-keystone"] == (True, False)
    assert set(states) == set(units.split())
    assert found.packages["openstack-keystone"] == "2024.1"
    assert (plain.count, hinted.count) == (rounds_plain, rounds_hinted)
