"""The executor's promises, on a scripted cloud: limits, every failure reported,
--max-fail-percent, restore steps after a halt, and the journal telling the truth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stackstep.catalog import load_catalog
from stackstep.engine.events import EventBus
from stackstep.engine.executor import Executor, Policy, RunResult
from stackstep.engine.journal import Journal
from stackstep.model.command import Command
from stackstep.model.inventory import Host, Inventory
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.transport.base import Result, TransportOptions
from stackstep.transport.factory import TransportPool

SERIES = """
name = "rdo-2013"
title = "two services, no API probes"
releases = ["grizzly", "havana"]
[repo]
rpm = ["true"]
deb = ["true"]
[[service]]
name = "keystone"
packages = { rpm = ["*keystone*"], deb = ["keystone"] }
migrate_on = "keystone"
[[service.component]]
name = "keystone"
units = { rpm = ["openstack-keystone"], deb = ["keystone"] }
[[service.migrate]]
name = "db-sync"
argv = ["keystone-manage", "db_sync"]
[[service]]
name = "nova"
after = ["keystone"]
packages = { rpm = ["*nova*"], deb = ["nova"] }
migrate_on = "compute"
[[service.component]]
name = "compute"
restart_after_final_upgrade = true
units = { rpm = ["openstack-nova-compute"], deb = ["nova-compute"] }
[[service.migrate]]
name = "db-sync"
argv = ["nova-manage", "db", "sync"]
"""


UNITS = ["openstack-keystone", "openstack-nova-compute"]


class ScriptedHost:
    """An async fake host: units with state, commands that fail on demand, a clock."""

    def __init__(self, host: str, cloud: Cloud) -> None:
        self.host, self.cloud = host, cloud
        self.units: dict[str, str] = {}
        self.started: dict[str, int] = {}  # unit -> clock when it last started
        self.installed: list[str] = []  # "CLOCK NAME" (rpm INSTALLTIME)

    async def run(
        self, command: Command, *, timeout: float | None = None, stdin: str | None = None
    ) -> Result:
        text = " ".join(command.reveal())
        argv = [a for a in command.reveal() if a != "--"]  # what the tools read as operands
        self.cloud.calls.append((self.host, text))
        self.cloud.running += 1
        self.cloud.peak = max(self.cloud.peak, self.cloud.running)
        await asyncio.sleep(0.01)
        self.cloud.running -= 1
        status, out = 0, ""
        if (self.host, text) in self.cloud.failing:
            status, out = 1, "boom"
        elif argv[:2] == ["systemctl", "is-active"]:
            states = [self.units.get(u, "active") for u in argv[2:] if u != "--"]
            out = "\n".join(states) + "\n"
            status = 0 if all(s == "active" for s in states) else 3
        elif argv[:1] == ["systemctl"] and argv[1] in ("stop", "start", "restart"):
            for unit in argv[2:]:
                self.units[unit] = "inactive" if argv[1] == "stop" else "active"
                self.started[unit] = len(self.cloud.calls)
        elif argv[:2] == ["systemctl", "show"]:  # a unit's main PID is 100 + its index
            out = "\n".join(
                f"Id={u}.service\nLoadState=loaded\nActiveState={self.units.get(u, 'active')}\n"
                f"MainPID={100 + UNITS.index(u)}\n"
                f"ExecMainStartTimestampMonotonic={self.started.get(u, 0) * 1_000_000}\n"
                for u in argv[5:]
            )
        elif argv[:2] == ["sh", "-c"] and "etimes" in argv[2]:  # clock, then PID + age
            now = len(self.cloud.calls)
            pids = [
                int(p) for p in argv[4].split(",") if UNITS[int(p) - 100] not in self.cloud.gone
            ]
            ages = [now - self.started.get(UNITS[pid - 100], 0) for pid in pids]
            out = f"{now}\n{now}.0\n" + "".join(
                f"{pid} {age}\n" for pid, age in zip(pids, ages, strict=True)
            )
        elif argv[:3] == ["yum", "-y", "upgrade"] and len(argv) == 3 and self.host != "ctl":
            self.installed.append(f"{len(self.cloud.calls)} python-glanceclient")
        elif argv[:2] == ["rpm", "-qa"]:
            out = "".join(f"{line}\n" for line in self.installed)
        elif argv[:1] == ["df"]:
            out = "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
            out += "/dev/x 100000000 1 99999999 1% /\n" * 2
        return Result(self.host, command.render(), status, out, "", 0.01)

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        return None

    async def get(self, path: str) -> bytes:
        return b""

    async def close(self) -> None:
        return None


class Cloud:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failing: set[tuple[str, str]] = set()
        self.gone: set[str] = set()  # units whose process ps no longer finds
        self.running = 0
        self.peak = 0
        self.hosts: dict[str, ScriptedHost] = {}

    def opener(self, host: Host, options: TransportOptions) -> ScriptedHost:
        return self.hosts.setdefault(host.name, ScriptedHost(host.name, self))

    def count(self, host: str, text: str) -> int:
        return self.calls.count((host, text))


def make_plan(tmp_path: Path, computes: int, parallel: int):
    site = tmp_path / "series.toml"
    site.write_text(SERIES)
    catalog = load_catalog((site,))
    hosts = [Host("ctl", "127.0.0.1", roles=("keystone",))]
    hosts += [Host(f"c{i}", "127.0.0.1", roles=("nova:compute",)) for i in range(1, computes + 1)]
    inventory = Inventory("t", "t.yaml", tuple(hosts), release="grizzly")
    options = PlanOptions(parallel=parallel, backup=False, prefetch=False)
    src, dst = resolve_releases(catalog, inventory, options)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    return build_plan(inventory, catalog, facts, options), inventory


def execute(
    tmp_path: Path, cloud: Cloud, computes: int = 6, parallel: int = 20, max_fail: float = 0.0
) -> tuple[RunResult, Journal, str]:
    plan, inventory = make_plan(tmp_path, computes, parallel)
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(plan, {}, {}, "t.yaml", "", "")

    async def main() -> RunResult:
        async with TransportPool(TransportOptions(), opener=cloud.opener) as pool:
            executor = Executor(
                plan,
                run_id,
                journal,
                EventBus(),
                pool,
                {h.name: h for h in inventory.hosts},
                Policy(max_fail),
                "stackstep resume X",
            )
            return await executor.execute()

    return asyncio.run(main()), journal, run_id


def test_parallel_limit_is_respected(tmp_path):
    cloud = Cloud()
    result, _, _ = execute(tmp_path, cloud, computes=8, parallel=3)
    assert result.status == "done"
    assert cloud.peak == 3


def test_every_sibling_finishes_and_every_failure_is_reported(tmp_path):
    cloud = Cloud()
    cloud.failing |= {("c2", "yum -y upgrade -- *nova*"), ("c5", "yum -y upgrade -- *nova*")}
    result, journal, run_id = execute(tmp_path, cloud)
    assert result.status == "failed"
    assert sorted(f.host for f in result.failures) == ["c2", "c5"]
    steps = journal.steps(run_id)
    for host in ("c1", "c3", "c4", "c6"):
        assert steps[f"services/nova/{host}/upgrade-packages"].state == "done"
    assert steps["services/nova/c2/upgrade-packages"].exit_status == 1
    assert "boom" in steps["services/nova/c2/upgrade-packages"].output_tail
    assert cloud.count("c1", "nova-manage db sync") == 0
    assert journal.run(run_id).status == "failed"


def test_max_fail_percent_lets_a_large_group_go_on(tmp_path):
    cloud = Cloud()
    cloud.failing |= {("c2", "yum -y upgrade -- *nova*"), ("c5", "yum -y upgrade -- *nova*")}
    result, journal, run_id = execute(tmp_path, cloud, max_fail=40)
    assert result.status == "failed"
    assert not result.failures and len(result.tolerated) == 2
    assert journal.steps(run_id)["final/c1/full-upgrade"].state == "done"


def test_max_fail_percent_exceeded_still_stops(tmp_path):
    cloud = Cloud()
    cloud.failing |= {(f"c{i}", "yum -y upgrade -- *nova*") for i in (1, 2, 3)}
    result, _, _ = execute(tmp_path, cloud, max_fail=40)
    assert len(result.failures) == 3
    assert cloud.count("ctl", "yum -y upgrade") == 0


def test_after_a_halt_the_service_is_started_again_and_nothing_else_runs(tmp_path):
    cloud = Cloud()
    cloud.failing.add(("ctl", "keystone-manage db_sync"))
    result, journal, run_id = execute(tmp_path, cloud)
    assert [f.step_id for f in result.failures] == ["services/keystone/ctl/migrate-db"]
    steps = journal.steps(run_id)
    assert steps["services/keystone/ctl/start-units"].state == "done"
    assert steps["services/keystone/ctl/verify"].state == "pending"
    assert steps["services/nova/c1/stop-units"].state == "pending"
    assert result.left_down == {}
    assert cloud.hosts["ctl"].units["openstack-keystone"] == "active"


def test_a_service_that_cannot_start_is_reported_down(tmp_path):
    cloud = Cloud()
    cloud.failing.add(("c3", "systemctl start -- openstack-nova-compute"))
    result, _, _ = execute(tmp_path, cloud)
    assert result.left_down == {"nova": ["c3"]}


@pytest.mark.parametrize("computes", [1, 4])
def test_clean_run_does_each_step_once(tmp_path, computes):
    cloud = Cloud()
    result, journal, run_id = execute(tmp_path, cloud, computes=computes)
    assert result.status == "done"
    assert {s.state for s in journal.steps(run_id).values()} == {"done"}
    assert cloud.count("ctl", "keystone-manage db_sync") == 1
    for i in range(1, computes + 1):
        assert cloud.count(f"c{i}", "systemctl restart -- openstack-nova-compute") == 1
    # nothing new was installed on the controller after keystone started: no restart
    assert not [t for h, t in cloud.calls if h == "ctl" and t.startswith("systemctl restart")]


def test_a_unit_whose_process_ends_while_being_checked_is_still_restarted(tmp_path):
    """nova-compute dies on its new glance client between `systemctl show` and `ps`:
    its start time then comes from systemd, and it is restarted all the same."""
    cloud = Cloud()
    cloud.gone.add("openstack-nova-compute")
    result, _, _ = execute(tmp_path, cloud, computes=2)
    assert result.status == "done"
    for host in ("c1", "c2"):
        assert cloud.count(host, "systemctl restart -- openstack-nova-compute") == 1
