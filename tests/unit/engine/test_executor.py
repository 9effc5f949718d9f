"""The executor's promises, on a scripted cloud: limits, every failure reported,
--max-fail-percent, restore steps after a halt, and the journal telling the truth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hostsim import SimHost
from stackstep.catalog import load_catalog
from stackstep.engine.events import EventBus
from stackstep.engine.executor import Executor, Policy, RunResult
from stackstep.engine.journal import Journal
from stackstep.model.inventory import Host, Inventory
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.transport.base import TransportOptions
from stackstep.transport.factory import TransportPool
from stackstep.transport.fake import Call, FakeTransport, Reply

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
database = { config = "/etc/ks.conf", section = "sql", key = "connection", name = "ks" }
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


class Cloud:
    """Simulated hosts (tests/hostsim.py) behind FakeTransports, one clock for all (a tick
    per command), each command taking 10 ms: how many ran at once is measured."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0
        self.hosts: dict[str, SimHost] = {}

    def host(self, name: str) -> SimHost:
        if name not in self.hosts:
            # the final upgrade brings the compute hosts a new client library
            news = "" if name == "ctl" else "python-glanceclient\n"
            self.hosts[name] = SimHost(name, clock=self.clock, final_upgrade_installs=news)
        return self.hosts[name]

    def clock(self) -> int:
        return len(self.calls)

    def fail(self, host: str, command: str) -> None:
        """``command`` fails on ``host``, saying "boom"."""
        self.host(host).store.write("fail", command)
        self.host(host).store.write("fail-output", "boom")

    def opener(self, host: Host, options: TransportOptions) -> FakeTransport:
        sim = self.host(host.name)

        async def answer(call: Call) -> Reply:
            self.calls.append((host.name, " ".join(call.command.reveal())))
            self.running += 1
            self.peak = max(self.peak, self.running)
            await asyncio.sleep(0.01)
            self.running -= 1
            return sim.answer(call)

        return FakeTransport(host.name, answer)

    def count(self, host: str, text: str) -> int:
        return self.calls.count((host, text))


def make_plan(tmp_path: Path, computes: int, parallel: int, **options: bool):
    site = tmp_path / "series.toml"
    site.write_text(SERIES)
    catalog = load_catalog((site,))
    hosts = [Host("ctl", "127.0.0.1", roles=("keystone",))]
    hosts += [Host(f"c{i}", "127.0.0.1", roles=("nova:compute",)) for i in range(1, computes + 1)]
    inventory = Inventory("t", "t.yaml", tuple(hosts), release="grizzly")
    options = PlanOptions(
        parallel=parallel,
        backup=options.get("backup", False),
        prefetch=options.get("prefetch", False),
    )
    src, dst = resolve_releases(catalog, inventory, options)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    return build_plan(inventory, catalog, facts, options), inventory


def execute(
    tmp_path: Path,
    cloud: Cloud,
    computes: int = 6,
    parallel: int = 20,
    max_fail: float = 0.0,
    **options: bool,
) -> tuple[RunResult, Journal, str]:
    plan, inventory = make_plan(tmp_path, computes, parallel, **options)
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
    for host in ("c2", "c5"):
        cloud.fail(host, "yum -y upgrade -- *nova*")
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
    for host in ("c2", "c5"):
        cloud.fail(host, "yum -y upgrade -- *nova*")
    result, journal, run_id = execute(tmp_path, cloud, max_fail=40)
    assert result.status == "failed"
    assert not result.failures and len(result.tolerated) == 2
    assert journal.steps(run_id)["final/c1/full-upgrade"].state == "done"


def test_max_fail_percent_exceeded_still_stops(tmp_path):
    cloud = Cloud()
    for host in ("c1", "c2", "c3"):
        cloud.fail(host, "yum -y upgrade -- *nova*")
    result, _, _ = execute(tmp_path, cloud, max_fail=40)
    assert len(result.failures) == 3
    assert cloud.count("ctl", "yum -y upgrade") == 0


def test_after_a_halt_the_service_is_started_again_and_nothing_else_runs(tmp_path):
    cloud = Cloud()
    cloud.fail("ctl", "keystone-manage db_sync")
    result, journal, run_id = execute(tmp_path, cloud)
    assert [f.step_id for f in result.failures] == ["services/keystone/ctl/migrate-db"]
    steps = journal.steps(run_id)
    assert steps["services/keystone/ctl/start-units"].state == "done"
    assert steps["services/keystone/ctl/verify"].state == "pending"
    assert steps["services/nova/c1/stop-units"].state == "pending"
    assert result.left_down == {}
    assert cloud.hosts["ctl"].store.read("units/openstack-keystone") == "active"


def test_a_service_that_cannot_start_is_reported_down(tmp_path):
    cloud = Cloud()
    cloud.fail("c3", "systemctl start -- openstack-nova-compute")
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
    for host in ("c1", "c2"):
        cloud.host(host).store.write("processes-gone", "openstack-nova-compute")
    result, _, _ = execute(tmp_path, cloud, computes=2)
    assert result.status == "done"
    for host in ("c1", "c2"):
        assert cloud.count(host, "systemctl restart -- openstack-nova-compute") == 1


def test_a_failed_backup_beside_the_upgrade_still_stops_the_migration(tmp_path):
    # the controller has no keystone.conf: the backup cannot find its database
    cloud = Cloud()
    result, journal, run_id = execute(tmp_path, cloud, computes=1, backup=True)
    assert [f.step_id for f in result.failures] == ["services/keystone/ctl/backup-db"]
    steps = journal.steps(run_id)
    # the upgrade beside it finished; nothing touched the database; keystone runs again
    assert steps["services/keystone/ctl/upgrade-packages"].state == "done"
    assert cloud.count("ctl", "keystone-manage db_sync") == 0
    assert steps["services/keystone/ctl/start-units"].state == "done"
    assert steps["services/nova/c1/stop-units"].state == "pending"
    assert cloud.hosts["ctl"].store.read("units/openstack-keystone") == "active"


def test_an_upgrade_the_cache_cannot_serve_asks_the_repository(tmp_path):
    # the prefetched cache was cleaned since (a resume days later): yum -C fails
    cloud = Cloud()
    cloud.fail("c1", "yum -y -C upgrade -- *nova*")
    result, journal, run_id = execute(tmp_path, cloud, computes=2, prefetch=True)
    assert result.status == "done", result.failures
    assert cloud.count("c1", "yum -y upgrade -- *nova*") == 1
    assert cloud.count("c2", "yum -y upgrade -- *nova*") == 0
    record = journal.steps(run_id)["services/nova/c1/upgrade-packages"]
    assert "installed from the repository" in record.message


def test_an_upgrade_that_fails_from_the_repository_too_is_reported(tmp_path):
    cloud = Cloud()
    cloud.fail("c1", "upgrade -- *nova*")
    result, _, _ = execute(tmp_path, cloud, computes=1, prefetch=True)
    assert [f.step_id for f in result.failures] == ["services/nova/c1/upgrade-packages"]
    assert cloud.count("c1", "yum -y -C upgrade -- *nova*") == 1
    assert cloud.count("c1", "yum -y upgrade -- *nova*") == 1
