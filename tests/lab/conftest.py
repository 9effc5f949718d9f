"""A real lab for these tests: needs root, systemd-nspawn and debootstrap (the golden
image is built once into the shared cache, ~2 minutes, then reused)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.lab import network
from stackstep.lab.lab import Lab

TOOLS = ("systemd-nspawn", "debootstrap", "ip", "nsenter", "createrepo_c", "rpmbuild")


def lab_available() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)} (make test installs them)" if missing else None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    if network.namespaces() and _lab_processes():
        pytest.skip("a lab is already up on this machine (one per machine): stackstep lab down")
    _clean_stale()
    root = tmp_path_factory.mktemp("lab")
    the_lab = Lab(root=root)
    if the_lab.state is not None:
        the_lab.down()
    try:
        yield the_lab
    finally:
        the_lab.destroy()


@pytest.fixture
def cloud(lab: Lab) -> Iterator[tuple[Lab, Path]]:
    """A fresh Grizzly cloud (`stackstep lab deploy --scenario havana`, ~20 s) and its
    inventory; the hosts are destroyed afterwards so the next test starts clean."""
    from stackstep.lab.openstack.deploy import deploy

    done = deploy(lab, "havana")
    try:
        yield lab, done.inventory
    finally:
        lab.destroy()


@pytest.fixture(scope="session")
def ha_cloud(lab: Lab) -> Iterator[tuple[Lab, Path]]:
    """The HA cloud (`stackstep lab deploy --scenario ha`, ~40-85 s) and its inventory,
    deployed once for the checks that leave it as it was (test_ha_cloud.py) and then
    the rolling upgrade (test_ha_rolling.py, which destroys it when done)."""
    from stackstep.lab.openstack.deploy import deploy

    done = deploy(lab, "ha")
    try:
        yield lab, done.inventory
    finally:
        lab.destroy()


def _lab_processes() -> bool:
    """Is any lab container still running (as opposed to namespaces left by a kill)?"""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.startswith(b"systemd-nspawn") and b"/run/netns/stlab" in text:
            return True
    return False


def _clean_stale() -> None:
    """Namespaces and overlay mounts a killed earlier run left behind."""
    import subprocess

    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[0] == "overlay" and "/hosts/" in fields[1] and "lab" in fields[1]:
            subprocess.run(["umount", "-l", fields[1]], check=False)
    for name in network.namespaces():
        subprocess.run(["ip", "netns", "del", name], check=False)
