"""SysV hosts (RHEL 6: no systemd) whose inventory does not say ``init: sysv``: discovery
finds out, and every health check asks ``service NAME status`` as the plan's commands
do: preflight, the upgrade's verify steps and the rolling reboot's gate. The fake hosts
have no ``systemctl`` at all (tests/hostsim.py, ``sysv``)."""

from __future__ import annotations

import re

import pytest

from fakecloud import FakeCloud

OLD, NEW = "5.14.0-70.el9.x86_64", "5.14.0-362.el9.x86_64"
COMPUTES = ("cmp1", "cmp2")
TOOLS = ("test", "chkconfig", "cat", "hostname", "nova", "shutdown")


@pytest.fixture
def sysv_cloud(fake_cloud: FakeCloud) -> FakeCloud:
    text = fake_cloud.inventory.read_text()
    declared = "defaults: {package_manager: yum, init: systemd}"
    assert declared in text
    fake_cloud.inventory.write_text(text.replace(declared, "defaults: {package_manager: yum}"))
    for host in ("ctl", *COMPUTES):
        (fake_cloud.host(host) / "sysv").write_text("")
        fake_cloud.link(host, *TOOLS)
    return fake_cloud


def no_systemctl(cloud: FakeCloud) -> None:
    for host in ("ctl", *COMPUTES):
        assert [c for c in cloud.calls(host) if c.startswith("systemctl")] == [], host


def test_preflight_checks_a_sysv_host_with_service_status(sysv_cloud):
    cloud = sysv_cloud
    proc = cloud.stackstep("preflight", "-i", str(cloud.inventory), "--catalog", str(cloud.catalog))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not running" not in proc.stdout
    assert cloud.count("ctl", "service openstack-glance-api status") >= 2  # discovery, check
    no_systemctl(cloud)


def test_upgrade_and_rolling_reboot_of_sysv_hosts(sysv_cloud):
    cloud = sysv_cloud
    for host in COMPUTES:
        kernels = f"kernel-{NEW}  Tue 02 Jan 2024\nkernel-{OLD}  Mon 01 Jan 2024\n"
        (cloud.host(host) / "kernels").write_text(kernels)
        (cloud.host(host) / "uname-after-reboot").write_text(NEW + "\n")
    proc = cloud.stackstep("upgrade", *cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", proc.stdout).group(1)  # type: ignore[union-attr]
    assert cloud.count("cmp1", "service openstack-nova-compute stop") == 1
    assert cloud.count("cmp1", "service openstack-nova-compute start") == 1
    states = cloud.step_states()
    assert states["services/nova/cmp1/verify"] == "done"
    assert states["preflight/cmp1/check"] == "done"

    reboot = cloud.stackstep(
        "reboot", run_id, "--state-dir", str(cloud.state), "--yes", "--no-disable"
    )
    assert reboot.returncode == 0, reboot.stdout + reboot.stderr
    assert "rebooted (2): cmp1, cmp2" in reboot.stdout
    assert [cloud.count(h, "shutdown -r now") for h in COMPUTES] == [1, 1]
    no_systemctl(cloud)


def test_a_start_killed_on_a_sysv_host_is_probed_with_service_status(sysv_cloud):
    cloud = sysv_cloud
    start = "service openstack-nova-compute start"
    (cloud.host("cmp1") / "pause").write_text(start)
    proc = cloud.start("upgrade", *cloud.args("--yes"))
    cloud.wait_paused("cmp1", proc)
    cloud.kill(proc)
    assert cloud.step_states()["services/nova/cmp1/start-units-2"] == "running"

    done = cloud.stackstep("resume", "--state-dir", str(cloud.state))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "start-units-2 was running when stackstep stopped; already done" in done.stdout
    assert cloud.count("cmp1", start) == 1
    no_systemctl(cloud)
