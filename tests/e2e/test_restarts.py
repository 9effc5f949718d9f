"""The after phase restarts only the units whose loaded code changed, decided from their
real processes (drivers/loaded.py): here the fake hosts' nova-compute units are real
processes the test started, the final upgrade replaces a real module file as rpm would,
and stackstep reads /proc on this machine through the local transport."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _client(host: Path) -> Path:
    """python-glanceclient on ``host``: a real module, listed by ``rpm -ql``."""
    package = host / "usr" / "lib" / PY / "site-packages" / "glanceclient"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = '0.9.0'\n")
    (host / "files").mkdir()
    (host / "files" / "python-glanceclient").write_text(f"{package}\n{package}/__init__.py\n")
    return package.parent


def _run_as(host: Path, unit: str, argv: list[str], started: list) -> None:
    proc = subprocess.Popen(argv)
    started.append(proc)
    (host / "pid").mkdir(exist_ok=True)
    (host / "pid" / unit).write_text(f"{proc.pid}\n")


def test_only_the_unit_that_loaded_the_new_client_is_restarted(fake_cloud, processes):
    # cmp1's nova-compute: a Python process that imported the glance client
    cmp1 = fake_cloud.host("cmp1")
    site = _client(cmp1)
    code = f"import sys, time; sys.path.insert(0, {str(site)!r}); import glanceclient; "
    _run_as(
        cmp1, "openstack-nova-compute", [sys.executable, "-c", code + "time.sleep(120)"], processes
    )
    # cmp2's: a process that is no Python interpreter and maps nothing the upgrade
    # replaced; the client's install time alone (the former rule) would restart it
    cmp2 = fake_cloud.host("cmp2")
    _client(cmp2)
    _run_as(cmp2, "openstack-nova-compute", ["sleep", "120"], processes)
    time.sleep(1.2)  # the client's files are older than the processes
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert fake_cloud.count("cmp1", "systemctl restart -- openstack-nova-compute") == 1
    assert fake_cloud.count("cmp2", "systemctl restart -- openstack-nova-compute") == 0
    # the summary says which unit was restarted and why; the step's result what was kept
    reason = f"python-glanceclient changed Python {PY[6:]} modules after it started, e.g. "
    assert f"cmp1: restarted openstack-nova-compute ({reason}{site}/glanceclient/" in proc.stdout
    assert "cmp2: restarted" not in proc.stdout
    log = re.search(r"log: (\S+)", proc.stdout).group(1)
    finished = [line for line in Path(log).read_text().splitlines() if "step-finished" in line]
    (cmp2,) = [line for line in finished if "restart/cmp2/restart-units" in line]
    assert "nothing to restart: 1 unit(s) run the code on disk" in cmp2


def test_a_unit_whose_process_cannot_be_read_falls_back_to_install_times(fake_cloud):
    # MainPID 0 (the fake hosts' default): the package install time decides, and says so
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert (
        "openstack-nova-compute (started before python-glanceclient was installed; "
        "its processes could not be read)" in proc.stdout
    )
