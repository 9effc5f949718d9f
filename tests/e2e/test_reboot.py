"""`stackstep reboot` on the fake cloud (hosts reached with `transport: local`): after an
upgrade whose reboot check found a new kernel on the compute hosts, the rolling reboot
reboots only those, one at a time, with nova-compute disabled before (through the
controller, with its admin credentials) and enabled after; it stops at the first host
that does not come back healthy; `--at` schedules `shutdown -r` instead.

The fake hosts really change their boot id on `systemctl reboot` (tests/hostsim.py)."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from fakecloud import REBOOT_TOOLS, FakeCloud

OLD, NEW = "5.14.0-70.el9.x86_64", "5.14.0-362.el9.x86_64"
COMPUTES = ("cmp1", "cmp2")
SERVICES = """\
+------------------+------+----------+---------+-------+
| Binary           | Host | Zone     | Status  | State |
+------------------+------+----------+---------+-------+
| nova-conductor   | ctl  | internal | enabled | up    |
| nova-compute     | cmp1 | nova     | enabled | up    |
| nova-compute     | cmp2 | nova     | enabled | up    |
+------------------+------+----------+---------+-------+
"""


def nova(action: str, host: str, rc: Path) -> str:
    """As the journal shows it: rendered (quoted), the credentials file sourced first."""
    source = '. "$1" && shift && exec "$@"'
    return shlex.join(
        ["sh", "-c", source, "sh", str(rc), "nova", f"service-{action}", host, "nova-compute"]
    )


@pytest.fixture
def cloud(fake_cloud: FakeCloud) -> FakeCloud:
    """The fake cloud with rebootable hosts and a new kernel installed on the computes."""
    for host in ("ctl", *COMPUTES):
        fake_cloud.link(host, *REBOOT_TOOLS)
    for host in COMPUTES:
        kernels = f"kernel-{NEW}  Tue 02 Jan 2024\nkernel-{OLD}  Mon 01 Jan 2024\n"
        (fake_cloud.host(host) / "kernels").write_text(kernels)
        (fake_cloud.host(host) / "uname-after-reboot").write_text(NEW + "\n")
    (fake_cloud.host("ctl") / "service-list").write_text(SERVICES)
    (fake_cloud.root / "adminrc").write_text("export OS_AUTH_URL=http://ctl:5000/v2.0\n")
    return fake_cloud


def upgraded(cloud: FakeCloud) -> str:
    proc = cloud.stackstep("upgrade", *cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reboot needed (new kernel) on: cmp1, cmp2" in proc.stdout
    return re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", proc.stdout).group(1)


def reboot(cloud: FakeCloud, *args: str):
    rc = cloud.root / "adminrc"
    return cloud.stackstep("reboot", "--state-dir", str(cloud.state), "--os-rc", str(rc), *args)


def commands(cloud: FakeCloud, run_id: str, after: int = 0) -> list[tuple[str, str]]:
    """(host, command) journalled for the run, from event id ``after`` on."""
    db = sqlite3.connect(cloud.state / "journal.sqlite")
    try:
        rows = db.execute(
            "SELECT host, message FROM events WHERE run_id=? AND kind='command' AND id>? "
            "ORDER BY id",
            (run_id, after),
        )
        return [(str(h), str(m)) for h, m in rows]
    finally:
        db.close()


def last_event(cloud: FakeCloud) -> int:
    db = sqlite3.connect(cloud.state / "journal.sqlite")
    try:
        return int(db.execute("SELECT max(id) FROM events").fetchone()[0])
    finally:
        db.close()


def test_rolling_reboot_of_the_hosts_with_a_new_kernel_one_at_a_time(cloud):
    run_id = upgraded(cloud)
    upgrade_events = last_event(cloud)
    proc = reboot(cloud, "--yes")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"cmp1  running {OLD}, newest installed {NEW}" in out
    assert f"ctl   running {OLD}, the newest installed" in out
    assert "rebooted (2): cmp1, cmp2" in out
    assert f"running {NEW} (was {OLD})" in out
    assert cloud.count("ctl", "systemctl reboot") == 0
    assert [cloud.count(h, "systemctl reboot") for h in COMPUTES] == [1, 1]

    rc = cloud.root / "adminrc"
    done = commands(cloud, run_id, upgrade_events)
    expected = [
        ("ctl", nova("disable", "cmp1", rc)),
        ("cmp1", "systemctl reboot"),
        ("cmp1", "uname -r"),  # the reboot check again, after the health gate
        ("ctl", nova("enable", "cmp1", rc)),
        ("ctl", nova("disable", "cmp2", rc)),
        ("cmp2", "systemctl reboot"),
        ("cmp2", "uname -r"),
        ("ctl", nova("enable", "cmp2", rc)),
    ]
    assert [done.index(c) for c in expected] == sorted(done.index(c) for c in expected)

    again = reboot(cloud, "--yes")  # the journal knows they were rebooted since the check
    assert again.returncode == 0, again.stdout
    assert "no host to reboot" in again.stdout
    assert "rebooted by stackstep at" in again.stdout


def test_the_rolling_reboot_stops_at_the_first_host_that_is_not_healthy(cloud):
    run_id = upgraded(cloud)
    (cloud.host("cmp1") / "after-reboot-failed").write_text("openstack-nova-compute\n")
    proc = reboot(cloud, "--yes", "--gate-timeout", "1", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["failed"] == ["cmp1"]
    assert result["skipped"] == ["cmp2"]
    failed = result["hosts"][0]
    assert failed["step"] == "reboot/cmp1/verify"
    assert "not active: openstack-nova-compute" in failed["message"]
    assert "nova-compute on cmp1 stays DISABLED" in failed["hint"]
    assert "to go on: stackstep reboot " + run_id in proc.stderr
    assert cloud.count("cmp2", "systemctl reboot") == 0  # left untouched
    assert ("ctl", nova("enable", "cmp1", cloud.root / "adminrc")) not in commands(cloud, run_id)


def now(cloud: FakeCloud) -> list[str]:
    """Check the hosts now, without a run."""
    return ["-i", str(cloud.inventory), "--catalog", str(cloud.catalog)]


def test_a_host_that_does_not_come_back_stops_the_rolling_reboot(cloud):
    (cloud.host("cmp1") / "reboot-hangs").write_text("")
    proc = reboot(cloud, *now(cloud), "--yes", "--boot-timeout", "1")
    assert proc.returncode == 1, proc.stdout
    assert "reboot/cmp1/wait on cmp1 failed: did not come back within 1 s" in proc.stdout
    assert "skipped (1): cmp2" in proc.stdout


def test_without_admin_credentials_nothing_is_rebooted(cloud):
    upgraded(cloud)
    proc = cloud.stackstep("reboot", "--state-dir", str(cloud.state), "--yes")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no admin credentials to disable nova-compute with" in proc.stderr
    assert "--os-rc FILE" in proc.stderr
    assert [cloud.count(h, "systemctl reboot") for h in COMPUTES] == [0, 0]

    plain = cloud.stackstep("reboot", "--state-dir", str(cloud.state), "--yes", "--no-disable")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "nova-compute stays ENABLED on cmp1, cmp2" in plain.stdout
    assert [cloud.count(h, "systemctl reboot") for h in COMPUTES] == [1, 1]
    assert not any(c.startswith("sh -c") for c in cloud.calls("ctl"))


def test_at_schedules_the_reboot_on_hosts_checked_now(cloud):
    proc = reboot(cloud, *now(cloud), "--at", "2:00", "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["mode"] == "schedule"
    assert result["scheduled"] == ["cmp1", "cmp2"]
    assert {n["host"]: n["needed"] for n in result["needs"]} == {
        "ctl": False,
        "cmp1": True,
        "cmp2": True,
    }
    assert "shutdown -c" in proc.stderr
    for host in COMPUTES:
        assert cloud.count(host, "shutdown -r 02:00 stackstep: new kernel") == 1
        assert cloud.count(host, "systemctl reboot") == 0
    assert cloud.count("ctl", "shutdown -r 02:00 stackstep: new kernel") == 0


def test_without_yes_and_no_terminal_it_only_tells(cloud):
    proc = reboot(cloud, *now(cloud), "--hosts", "cmp2")
    assert proc.returncode == 2, proc.stdout
    assert "needs a reboot (1):" in proc.stdout
    assert "rerun with --yes" in proc.stderr
    assert [cloud.count(h, "systemctl reboot") for h in COMPUTES] == [0, 0]
