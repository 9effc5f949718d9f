"""The lab: real hosts (systemd in nspawn), real SSH with host-key checking, real
package repositories, real reboots, and nothing left behind by `lab down`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from stackstep.inventory.loader import load_inventory
from stackstep.lab import network
from stackstep.model.command import cmd
from stackstep.transport.base import TransportOptions
from stackstep.transport.factory import TransportPool

SPEC = "controller,compute1,storage:deb"


def stackstep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackstep", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def over_ssh(inventory: Path, argv: list[str]) -> dict[str, tuple[int, str]]:
    hosts = load_inventory(inventory).hosts

    async def main() -> dict[str, tuple[int, str]]:
        async with TransportPool(TransportOptions()) as pool:
            transports = [await pool.get(h) for h in hosts]
            results = await asyncio.gather(*(t.run(cmd(*argv), timeout=120) for t in transports))
        return {r.host: (r.exit_status, r.stdout.strip() + r.stderr.strip()) for r in results}

    return asyncio.run(main())


def test_lab_lifecycle(lab):
    try:
        _lifecycle(lab)
    finally:
        lab.down()  # a failure here must not leave the lab up for the next tests


def _lifecycle(lab):
    started = time.monotonic()
    timings = lab.up(SPEC)
    print(
        f"\nlab up (3 hosts): {time.monotonic() - started:.1f} s, "
        f"golden build {timings['golden_build_s']:.1f} s"
    )
    states_up = [h["state"] for h in lab.status()]
    failed = {
        h: lab.host(h).exec(["systemctl", "--failed", "--no-legend"], check=False).stdout
        for h in ("controller", "compute1", "storage")
    }
    assert states_up == ["running"] * 3, f"states {states_up}; failed units {failed}"

    names = over_ssh(lab.inventory, ["hostname"])
    assert names == {
        "controller": (0, "controller"),
        "compute1": (0, "compute1"),
        "storage": (0, "storage"),
    }
    states = over_ssh(lab.inventory, ["systemctl", "is-system-running"])
    assert {v[1] for v in states.values()} == {"running"}, states

    found = stackstep("discover", "-i", str(lab.inventory), "--json")
    assert found.returncode == 0, found.stderr
    hosts = {h["name"]: h for h in json.loads(found.stdout)["hosts"]}
    assert hosts["controller"]["package_manager"] == "dnf"
    assert hosts["storage"]["package_manager"] == "apt"

    repos = over_ssh(
        lab.inventory,
        [
            "sh",
            "-c",
            "if command -v dnf >/dev/null && "
            "[ -f /etc/yum.repos.d/lab.repo ]; then dnf -q -y "
            "--refresh install lab-base && rpm -q lab-base; else "
            "apt-get -q update && apt-cache policy lab-base; fi",
        ],
    )
    for host, (status, out) in repos.items():
        assert status == 0, f"{host}: {out}"
        assert "lab-base" in out

    ctl = lab.host("controller")
    before = ctl.boot_id()
    over_ssh_one = ctl.exec(["systemctl", "reboot"], check=False)
    del over_ssh_one
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if ctl.leader() is not None and ctl.boot_id() != before:
            break
    state = ctl.wait_running()
    failed_ctl = ctl.exec(["systemctl", "--failed", "--no-legend"], check=False).stdout
    assert state == "running", f"after the reboot: {state}; failed units {failed_ctl}"
    assert ctl.boot_id() != before
    assert over_ssh(lab.inventory, ["systemctl", "is-active", "ssh"])["controller"] == (0, "active")

    lab.down()
    started = time.monotonic()
    lab.up(SPEC)
    warm = time.monotonic() - started
    print(f"lab up with a warm cache: {warm:.1f} s")
    assert warm < 30
    assert [h["state"] for h in lab.status()] == ["running"] * 3
    lab.down()
    assert network.namespaces() == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert "stlab" not in links.stdout and "stv" not in links.stdout
    mounts = Path("/proc/mounts").read_text()
    assert str(lab.root) not in mounts
    for host in ("controller", "compute1", "storage"):
        assert not (lab.root / "hosts" / host / "loop.pid").exists()
    leftover = subprocess.run(
        ["pgrep", "-f", f"systemd-nspawn -q -D {lab.root}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftover.stdout == ""


def test_lab_needs_root_and_says_why(tmp_path):
    if os.geteuid() != 0:
        proc = stackstep("lab", "status")
    else:
        env = {**os.environ, "HOME": str(tmp_path)}
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-m",
                "stackstep",
                "lab",
                "up",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    assert proc.returncode == 2, proc.stderr
    assert "needs root" in proc.stderr


def test_fault_hooks(lab):
    from stackstep.errors import TransportError
    from stackstep.lab import faults

    lab.up("controller,compute1")
    try:

        def ssh_ok() -> bool:
            try:
                return over_ssh(lab.inventory, ["true"])["compute1"][0] == 0
            except TransportError:
                return False

        assert ssh_ok()
        faults.apply(lab, "compute1", "link-down")
        assert not ssh_ok()
        faults.apply(lab, "compute1", "link-up")
        assert ssh_ok()

        faults.apply(lab, "compute1", "sshd-stop")
        assert not ssh_ok()
        faults.apply(lab, "compute1", "sshd-start")
        assert ssh_ok()

        faults.apply(lab, "compute1", "fill-disk")
        df = lab.host("compute1").exec(["df", "--output=avail", "-B1", "/var"]).stdout.split()
        assert int(df[-1]) < 50 * 1024 * 1024
        faults.apply(lab, "compute1", "free-disk")

        runner = lab.host("compute1")
        before = runner.boot_id()
        faults.apply(lab, "compute1", "power-off")
        assert runner.leader() is None and not ssh_ok()
        faults.apply(lab, "compute1", "power-on")
        assert runner.boot_id() != before and ssh_ok()
    finally:
        lab.down()


def test_lab_refuses_a_subnet_already_in_use(lab):
    import pytest

    from stackstep.lab.errors import LabError

    subprocess.run(["ip", "link", "add", "stlabprobe", "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.254.0.250/24", "dev", "stlabprobe"], check=True)
        with pytest.raises(LabError, match="already in use"):
            lab.up("controller")
    finally:
        subprocess.run(["ip", "link", "del", "stlabprobe"], check=True)
    assert network.namespaces() == []
