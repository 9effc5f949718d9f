"""Reboots (reboot/detect.py, rolling.py, computes.py) on a scripted cloud whose hosts
change boot id when they reboot: which hosts, the order, nova-compute off then on, the
stop at the first host that does not come back healthy, and the preflight."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakecloud import OkHandler
from hostsim import SimHost
from stackstep.drivers import services
from stackstep.engine.events import Event, EventBus
from stackstep.engine.journal import Journal, StepRecord
from stackstep.errors import PreflightFailed
from stackstep.model.facts import Facts, HostFacts
from stackstep.model.inventory import Host, Inventory
from stackstep.model.params import VerifyParams
from stackstep.model.plan import Step, StepKind
from stackstep.planner.steps import reboot_check
from stackstep.reboot.computes import ComputeControl, compute_control
from stackstep.reboot.detect import (
    Need,
    Recorder,
    Target,
    api_hosts,
    build_targets,
    need_of,
    needs_from_journal,
    schedule,
)
from stackstep.reboot.rolling import RebootOptions, RollingReboot
from stackstep.transport.factory import TransportPool
from stackstep.transport.fake import Call, FakeTransport, Reply

OLD, NEW = "5.14.0-70.el9.x86_64", "5.14.0-362.el9.x86_64"
RPM_LAST = f"kernel-{NEW}  Tue 02 Jan 2024\nkernel-{OLD}  Mon 01 Jan 2024\n"


RC = "/root/keystonerc_admin"


class Cloud:
    """Simulated hosts (tests/hostsim.py) that reboot: a new boot id, the newest kernel,
    units failed as ``after-reboot-failed``, the reboot command losing its connection.
    Counts the hosts down at once (rebooted and not answering yet)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.down: set[str] = set()  # rebooted and not answering yet
        self.peak = 0  # most hosts down at once
        self.hosts: dict[str, SimHost] = {}

    def add(self, name: str, units: list[str]) -> SimHost:
        host = SimHost(
            name,
            files={RC: "export OS_AUTH_URL=http://ctl:5000/v2.0\n"},
            kernels=RPM_LAST,
            uname_after_reboot=NEW,
            hostname=f"{name}.example",
            reboot_cuts_ssh="",
        )
        for unit in units:
            host.store.write(f"units/{unit}", "active")
        self.hosts[name] = host
        return host

    def pool(self) -> TransportPool:
        return TransportPool(
            opener=lambda host, options: FakeTransport(host.name, self.watch(host.name))
        )

    def watch(self, name: str) -> Callable[[Call], Reply]:
        sim = self.hosts[name]

        def answer(call: Call) -> Reply:
            argv = call.command.reveal()
            self.calls.append((name, " ".join(argv)))
            if argv[0] == "cat":
                self.down.discard(name)  # it answers: it is up
            reboots = sim.reboots
            try:
                return sim.answer(call)
            finally:
                if sim.reboots > reboots:
                    self.down.add(name)
                    self.peak = max(self.peak, len(self.down))

        return answer

    def index(self, host: str, text: str) -> int:
        return self.calls.index((host, text))


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture
def rec(tmp_path: Path) -> Recorder:
    return Recorder(Journal(tmp_path / "state"), EventBus(), "run-1")


def facts(name: str, *components: str) -> HostFacts:
    return HostFacts(name, "rpm", "dnf", "systemd", components)


def verify(host: str, units: list[str], url: str | None = None) -> Step:
    data = {"units": list(units)} | ({"probe": {"url": url, "expect": [200]}} if url else {})
    commands = services.is_active("systemd", tuple(units))  # as the planner writes them
    params = VerifyParams.from_json(data)
    return Step(f"services/x/{host}/verify", StepKind.VERIFY, "verify", host, "x", commands, params)


def target(name: str, units: list[str], url: str | None = None, compute: bool = False) -> Target:
    check = reboot_check(facts(name))
    need = Need(name, True, OLD, NEW, "new kernel")
    return Target(
        Host(name, "10.0.0.1"), need, "systemd", check, (verify(name, units, url),), compute
    )


def three_hosts(api_url: str) -> tuple[Cloud, list[Target]]:
    cloud = Cloud()
    cloud.add("ctl", ["openstack-nova-api"])
    for name in ("cmp1", "cmp2"):
        cloud.add(name, ["openstack-nova-compute"])
    targets = [
        target("cmp1", ["openstack-nova-compute"], compute=True),
        target("ctl", ["openstack-nova-api"], api_url),
        target("cmp2", ["openstack-nova-compute"], compute=True),
    ]
    return cloud, targets


def control(cloud: Cloud) -> ComputeControl:
    names = {n: f"{n}.example" for n in ("cmp1", "cmp2")}
    return ComputeControl("nova", Host("ctl", "10.0.0.1"), "/root/keystonerc_admin", names)


def roll(
    cloud: Cloud,
    targets: list[Target],
    rec: Recorder,
    switch: ComputeControl | None,
    **options: float,
) -> RollingReboot:
    async def main() -> RollingReboot:
        async with cloud.pool() as pool:
            rolling = RollingReboot(
                targets, pool, rec, RebootOptions(**options), switch, "stackstep reboot"
            )
            await rolling.run()
            return rolling

    return asyncio.run(main())


def nova(action: str, host: str) -> str:
    sh = 'sh -c . "$1" && shift && exec "$@" sh /root/keystonerc_admin'
    return f"{sh} nova service-{action} {host}.example nova-compute"


def test_api_hosts_first_then_one_at_a_time_with_nova_compute_off_around_it(rec, api_url):
    cloud, targets = three_hosts(api_url)
    rolling = roll(cloud, targets, rec, control(cloud), gate_timeout=5)
    assert [o.state for o in rolling.outcomes.values()] == ["rebooted"] * 3
    assert [t.name for t in rolling.targets] == ["ctl", "cmp1", "cmp2"]
    assert cloud.peak == 1
    at = cloud.index
    order = [
        at("ctl", "systemctl reboot"),
        at("ctl", nova("disable", "cmp1")),
        at("cmp1", "systemctl reboot"),
        at("cmp1", "systemctl is-active -- openstack-nova-compute"),
        at("ctl", nova("enable", "cmp1")),
        at("ctl", nova("disable", "cmp2")),
        at("cmp2", "systemctl reboot"),
        at("ctl", nova("enable", "cmp2")),
    ]
    assert order == sorted(order)
    assert ("ctl", nova("disable", "ctl")) not in cloud.calls  # not a compute host
    done = rolling.outcomes["cmp1"]
    assert "with a new boot id" in done.message
    assert f"running {NEW} (was {OLD})" in done.message
    assert done.data["still_needed"] is False


def test_parallel_reboots_the_others_together_but_api_hosts_alone(rec, api_url):
    cloud, targets = three_hosts(api_url)
    roll(cloud, targets, rec, control(cloud), parallel=2, gate_timeout=5)
    assert cloud.peak == 2
    ctl_back = max(i for i, (h, _) in enumerate(cloud.calls) if h == "ctl" and "nova" not in _)
    assert ctl_back < cloud.index("cmp1", "systemctl reboot")


def test_the_first_unhealthy_host_stops_the_rolling_and_keeps_its_compute_off(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["cmp1"].store.write("after-reboot-failed", "openstack-nova-compute")
    rolling = roll(cloud, targets, rec, control(cloud), gate_timeout=1)
    failed, skipped = rolling.outcomes["cmp1"], rolling.outcomes["cmp2"]
    assert failed.state == "failed"
    assert failed.step == "reboot/cmp1/verify"
    assert "not active: openstack-nova-compute" in failed.message
    assert "stays DISABLED" in (failed.hint or "")
    assert "`nova service-enable cmp1.example nova-compute` on ctl" in (failed.hint or "")
    assert ("ctl", nova("enable", "cmp1")) not in cloud.calls
    assert skipped.state == "skipped"
    assert "stopped at cmp1" in skipped.message
    assert [c for c in cloud.calls if c[0] == "cmp2"] == []  # left untouched
    assert rolling.still_disabled() == [control(cloud).shown("enable", "cmp1")]


def test_a_host_that_does_not_come_back_fails_the_wait(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].store.write("reboot-hangs", "")
    rolling = roll(cloud, targets, rec, control(cloud), boot_timeout=1)
    failed = rolling.outcomes["ctl"]
    assert failed.step == "reboot/ctl/wait"
    assert "did not come back within 1 s" in failed.message
    assert "same boot id" in failed.message
    assert {o.state for n, o in rolling.outcomes.items() if n != "ctl"} == {"skipped"}


def test_a_refused_reboot_fails_and_gives_the_host_back_to_the_scheduler(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["cmp1"].store.write("fail", "systemctl reboot")  # refused, exit 1
    cloud.hosts["cmp1"].store.remove("reboot-cuts-ssh")
    rolling = roll(cloud, [targets[0]], rec, control(cloud))
    failed = rolling.outcomes["cmp1"]
    assert failed.step == "reboot/cmp1/reboot"
    assert "exited 1" in failed.message
    assert ("ctl", nova("enable", "cmp1")) in cloud.calls
    assert "DISABLED" not in (failed.hint or "")


def test_a_session_cut_by_the_reboot_is_not_a_failure(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["cmp1"].store.remove("reboot-cuts-ssh")
    cloud.hosts["cmp1"].store.write("reboot-status", "255")  # ended without an exit status
    rolling = roll(cloud, [targets[0]], rec, None)
    assert rolling.outcomes["cmp1"].state == "rebooted"


def preflight(cloud: Cloud, rec: Recorder, targets: list[Target], **kw: object) -> ComputeControl:
    api = kw.pop("api", Host("ctl", "10.0.0.1"))
    rc = kw.pop("rc", None)

    async def main() -> ComputeControl:
        async with cloud.pool() as pool:
            return await compute_control(api, targets, "nova", rc, pool, rec)  # type: ignore[arg-type]

    return asyncio.run(main())


LISTING = (
    "| Binary | Host | Zone |\n| nova-compute | cmp1.example | nova |\n"
    "| nova-compute | cmp2.example | nova |\n"
)


def test_preflight_finds_credentials_and_nova_names(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].store.write("service-list", LISTING)
    found = preflight(cloud, rec, [targets[0], targets[2]])
    assert found.rc == "/root/keystonerc_admin"
    assert dict(found.names) == {"cmp1": "cmp1.example", "cmp2": "cmp2.example"}


def test_preflight_without_credentials_says_how_to_go_on(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].files.clear()
    with pytest.raises(PreflightFailed) as caught:
        preflight(cloud, rec, [targets[0]])
    assert "no admin credentials" in caught.value.message
    assert "--os-rc FILE" in (caught.value.hint or "")
    assert "--no-disable" in (caught.value.hint or "")
    assert not any("reboot" in text for _, text in cloud.calls)


def test_preflight_credentials_in_the_environment_need_no_file(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].store.write("service-list", LISTING)
    api = Host("ctl", "10.0.0.1", env={"OS_CLOUD": "admin"})
    assert preflight(cloud, rec, [targets[0]], api=api).rc is None


def test_preflight_refuses_a_compute_host_nova_does_not_know(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].store.write("service-list", LISTING.replace("cmp2.example", "other"))
    with pytest.raises(PreflightFailed, match=r"no nova-compute service on cmp2\.example"):
        preflight(cloud, rec, [targets[0], targets[2]])


def test_preflight_refuses_a_failing_client(rec, api_url):
    cloud, targets = three_hosts(api_url)
    cloud.hosts["ctl"].store.write("fail", "service-list")
    with pytest.raises(PreflightFailed, match="`nova service-list` exited 1"):
        preflight(cloud, rec, [targets[0]])
    with pytest.raises(PreflightFailed, match="no host runs nova-api"):
        preflight(cloud, rec, [targets[0]], api=None)


def test_schedule_runs_shutdown_on_each_host(rec, api_url):
    cloud, targets = three_hosts(api_url)

    async def main() -> list[str]:
        async with cloud.pool() as pool:
            return [o.state for o in await schedule(targets[:2], "02:00", pool, rec)]

    cloud.hosts["ctl"].store.write("fail", "shutdown -r")
    assert asyncio.run(main()) == ["scheduled", "failed"]
    assert ("cmp1", "shutdown -r 02:00 stackstep: new kernel") in cloud.calls


def test_need_says_why():
    need = need_of("cmp1", {"running": OLD, "newest": NEW, "reboot_needed": True})
    assert need.needed and need.why == f"running {OLD}, newest installed {NEW}"
    flagged = need_of("cmp1", {"running": NEW, "newest": NEW, "reboot_needed": True})
    assert "needs-restarting -r" in flagged.why
    fine = need_of("ctl", {"running": NEW, "newest": NEW, "reboot_needed": False})
    assert fine.needed is False and fine.why == f"running {NEW}, the newest installed"


def record(host: str, state: str, data: dict, finished: float = 100.0) -> StepRecord:
    return StepRecord(
        f"reboot/{host}/check", state, host, "reboot-check", 1.0, finished, 0, "", "", 1, data
    )


def test_needs_from_journal_leave_out_hosts_rebooted_since():
    needed = {"running": OLD, "newest": NEW, "reboot_needed": True}
    steps = {
        "a": record("cmp1", "done", needed),
        "b": record("cmp2", "done", needed),
        "c": record("ctl", "pending", {}),
    }
    events = [
        Event("message", "run-1", None, "cmp1", "", {"reboot": "rebooted"}, time=200.0),
        Event("message", "run-1", None, "cmp2", "", {"reboot": "rebooted"}, time=50.0),
    ]
    needs = {n.host: n for n in needs_from_journal("run-1", steps, events)}
    assert needs["cmp1"].needed is False
    assert needs["cmp1"].why.startswith("rebooted by stackstep at ")
    assert needs["cmp2"].needed is True  # that reboot was before this check
    assert needs["ctl"].needed is None
    assert "pending" in needs["ctl"].why


def test_targets_come_from_the_plan_and_the_facts(plan_for):
    plan = plan_for(
        "cloud: c\nrelease: grizzly\ntarget: havana\nhosts:\n"
        "  ctl: {address: 10.0.0.1, roles: [controller]}\n"
        "  cmp1: {address: 10.0.0.2, roles: [compute]}\n"
        "  cmp2: {address: 10.0.0.3, roles: [compute]}\n"
    )
    found = Facts(
        (
            facts("ctl", "keystone:keystone", "nova:api"),
            facts("cmp1", "nova:compute"),
            facts("cmp2", "nova:compute"),
        )
    )
    inventory = Inventory(
        "c", "c.yaml", tuple(Host(n, "10.0.0.1") for n in ("ctl", "cmp1", "cmp2"))
    )
    needs = [Need("cmp1", True), Need("ctl", True), Need("cmp2", False)]
    targets = build_targets(plan, found, inventory, needs)
    assert [t.name for t in targets] == ["ctl", "cmp1"]
    ctl, cmp1 = targets
    assert ctl.serves_api and not ctl.compute
    assert "openstack-keystone" in ctl.units
    assert cmp1.compute and not cmp1.serves_api
    assert "openstack-nova-compute" in cmp1.units
    assert cmp1.check is not None and cmp1.check.id == "reboot/cmp1/check"
    assert [h.name for h in api_hosts(found, inventory)] == ["ctl"]
