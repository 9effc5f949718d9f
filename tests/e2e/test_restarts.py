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

HOSTS = ("cmp1", "cmp2")
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


def _finished(stdout: str, step: str) -> list[str]:
    """The run log's step-finished lines of ``step`` (the log named in ``stdout``)."""
    log = Path(re.search(r"log: (\S+)", stdout).group(1)).read_text()
    return [line for line in log.splitlines() if "step-finished" in line and step in line]


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
    (cmp2,) = _finished(proc.stdout, "restart/cmp2/restart-units")
    assert "nothing to restart: 1 unit(s) run the code on disk" in cmp2


def test_a_unit_whose_process_cannot_be_read_falls_back_to_install_times(fake_cloud):
    # MainPID 0 (the fake hosts' default): the package install time decides, and says so
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert (
        "openstack-nova-compute (started before python-glanceclient was installed; "
        "its processes could not be read)" in proc.stdout
    )


def _standin(host: Path, package: str) -> Path:
    """A stand-in API's script, shipped by ``package`` (as the lab's openstack-lab-common
    ships /usr/lib/openstack-lab/standin.py), and a module of it in site-packages."""
    script = host / "usr" / "lib" / "openstack-lab" / "standin.py"
    script.parent.mkdir(parents=True)
    script.write_text("import time\ntime.sleep(120)\n")
    module = host / "usr" / "lib" / PY / "site-packages" / "standin_lib.py"
    module.parent.mkdir(parents=True)
    module.write_text("API = 'v2'\n")
    (host / "files").mkdir(exist_ok=True)
    (host / "files" / package).write_text(f"{script.parent}\n{script}\n{module}\n")
    (host / "final-upgrade-installs").write_text(f"{package}\n")
    return script


def test_a_unit_whose_code_was_written_again_with_the_same_content_is_kept(fake_cloud, processes):
    # both computes' nova-compute run a script shipped by openstack-lab-common; the final
    # upgrade writes it (and a module) again: on cmp1 with the same bytes, on cmp2 new ones
    scripts = {name: _standin(fake_cloud.host(name), "openstack-lab-common") for name in HOSTS}
    time.sleep(0.3)  # the files were installed before the processes started
    for name, script in scripts.items():
        argv = [sys.executable, str(script)]
        _run_as(fake_cloud.host(name), "openstack-nova-compute", argv, processes)
    (fake_cloud.host("cmp1") / "final-upgrade-same").write_text("openstack-lab-common\n")
    time.sleep(1.2)  # and written again well after
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert fake_cloud.count("cmp1", "systemctl restart -- openstack-nova-compute") == 0
    assert fake_cloud.count("cmp2", "systemctl restart -- openstack-nova-compute") == 1
    script = fake_cloud.host("cmp2") / "usr" / "lib" / "openstack-lab" / "standin.py"
    assert f"cmp2: restarted openstack-nova-compute (its script {script} changed" in proc.stdout
    assert "cmp1: restarted" not in proc.stdout
    (cmp1,) = _finished(proc.stdout, "restart/cmp1/restart-units")
    assert "kept openstack-nova-compute (standin.py replaced with the same content" in cmp1
    # the record of the files' digests before the upgrade stays on the host, 0600
    (upgrade,) = _finished(proc.stdout, "final/cmp1/full-upgrade")
    record = fake_cloud.host("cmp1") / "records"
    (path,) = record.glob("*/file-digests")
    assert f"recorded 2 file digests first: {path}" in upgrade  # the files, not their folder
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_all_at_once_full_upgrade_records_no_digests_inside_its_outage(fake_cloud):
    # no restart-units follows it: the record would only lengthen the outage
    proc = fake_cloud.stackstep(
        "upgrade", *fake_cloud.args("--yes", "--strategy", "all-at-once"), timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    for host in ("ctl", "cmp1", "cmp2"):
        assert (
            fake_cloud.count(host, "yum -y -C upgrade") + fake_cloud.count(host, "yum -y upgrade")
            == 1
        )
        assert not [c for c in fake_cloud.calls(host) if "FILEDIGESTS" in c]
    assert not list(fake_cloud.host("cmp1").glob("records/*"))
