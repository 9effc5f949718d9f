"""An apt upgrade of catalog globs upgrades the installed packages they match, and a
glob that matches nothing installed is skipped (as yum/dnf skip it) instead of failing
the transaction: apt-get itself refuses a glob that matches no package it knows of
("Unable to locate package python3-keystone*"), which the HA lab's deb hosts met in a
service-by-service upgrade. Run here with this machine's real dpkg database, with
``echo`` in place of apt-get."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stackstep.drivers import packages

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg")


def _run(*globs: str) -> subprocess.CompletedProcess[str]:
    (command,) = packages.upgrade("apt", globs)
    inner = command.argv[4:]  # what the hold of service starts runs
    assert inner[:2] == ("sh", "-c") and inner[3] == packages.INSTALLED_NAME
    apt_at = inner.index("apt-get")
    argv = [str(t) for t in (*inner[:apt_at], "echo", *inner[apt_at + 1 :])]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_only_installed_packages_matching_the_globs_reach_apt():
    done = _run("bas[h]", "no-such-package-stackstep*", "coreutil*", "-q")
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words[-3:] == ["--", "bash", "coreutils"], done.stdout
    assert words[:2] == ["-y", "-o"]  # apt-get's own options, as planned


def test_globs_matching_nothing_installed_upgrade_nothing_and_succeed():
    done = _run("python3-keystone-stackstep*", "--admindir=/nonexistent")
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "stackstep: no installed package matches; nothing to upgrade",
    )


def test_the_plan_still_shows_the_apt_command_and_its_globs():
    (command,) = packages.upgrade("apt", ("keystone*", "python3-keystone*"))
    assert packages.held_argv(command)[-5:] == (
        "install",
        "--only-upgrade",
        "--",
        "keystone*",
        "python3-keystone*",
    )
    assert packages.is_apt(command)
