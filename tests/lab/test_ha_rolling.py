"""A rolling upgrade of the HA lab (`stackstep lab deploy --scenario ha`: HAProxy on
`lb`, real keystone 28.1.0 and the modern stand-ins of glance, placement, nova, neutron
and cinder on three controllers, nova-compute on two computes, MariaDB on `db`) to
2026.1, under the load generator through the VIP: 0 failed requests for every API, the
schemas contracted, every process on the new code with the RPC pins dropped, the online
data migrations done, a token issued before still valid after. The same on Ubuntu-style
hosts (`--flavour deb`: apt, debhelper maintainer scripts that restart units), where the
run is also killed while a controller is out of rotation and resumed: it ends the same,
every backend UP, with no failed request over the run and its resume.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labcloud import sh, stackstep

from stackstep.lab.lab import Lab
from stackstep.lab.openstack import keystone, modern
from stackstep.lab.openstack.ha import BACKENDS, CATALOG

pytestmark = pytest.mark.slow

CONTROLLERS = ("controller1", "controller2", "controller3")
COMPUTES = ("compute1", "compute2")
# gazpacho's RPC versions: every pin dropped once every service runs the new code
PINS = {"nova": {"compute": "6.5"}, "cinder": {"cinder-scheduler": "3.13", "cinder-volume": "3.20"}}
POLICY = "/usr/sbin/policy-rc.d"
LOAD = "20"  # token validations per second (issues: 2/s), as issue 14 asks


def _openrc(lab: Lab) -> dict[str, str]:
    """The OS_* variables the deploy wrote for the load generator."""
    text = (lab.root / "openrc-ha").read_text()
    return dict(re.findall(r"^(?:export )?(OS_[A-Z_]+)=['\"]?([^'\"\n]*)['\"]?$", text, re.M))


def _credentials(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The load generator's OS_* variables, from the deploy's openrc."""
    for key, value in _openrc(lab).items():
        monkeypatch.setenv(key, value)


def _deploy(lab: Lab, flavour: str) -> Path:
    from stackstep.lab.openstack.deploy import deploy

    return deploy(lab, "ha", flavour=flavour).inventory


def _vip(inventory: Path) -> str:
    found = re.search(r"^vip: (\S+)$", inventory.read_text(), re.M)
    assert found, inventory.read_text()
    return found.group(1)


def _issue(lab: Lab, vip: str) -> str:
    """A token issued through the VIP (from controller1, which reaches it)."""
    out = sh(
        lab,
        "controller1",
        "curl -s -i -X POST -H 'Content-Type: application/json' "
        f"-d @{keystone.AUTH_FILE} http://{vip}:{keystone.PORT}/v3/auth/tokens",
    ).stdout
    found = re.search(r"^X-Subject-Token: (\S+)", out, re.M | re.I)
    assert out.startswith("HTTP/1.1 201") and found, out
    return found.group(1)


def _validates(lab: Lab, vip: str, token: str) -> str:
    return sh(
        lab,
        "controller2",
        f"curl -s -o /dev/null -w '%{{http_code}}' http://{vip}:{keystone.PORT}/v3/auth/tokens "
        f"-H 'X-Auth-Token: {token}' -H 'X-Subject-Token: {token}'",
    ).stdout.strip()


def _servers(lab: Lab) -> dict[str, str]:
    """HAProxy's view on lb: backend/server -> status."""
    script = (
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock');"
        "s.sendall(b'show stat -1 4 -1\\n'); print(s.makefile().read())"
    )
    out = lab.host("lb").exec(["python3", "-c", script]).stdout
    header = out.splitlines()[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in out.splitlines()[1:]]
    return {f"{r['pxname']}/{r['svname']}": r["status"] for r in rows if r.get("svname")}


def _standins(lab: Lab, host: str) -> dict[str, object]:
    """What each stand-in process on ``host`` says it runs: component -> (release, pins)."""
    out = sh(lab, host, "for f in /run/openstack-lab/*.json; do cat $f; echo; done").stdout
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {f["component"]: (f["release"], f["pins"]) for f in found}


def _expected_standins(role: str) -> dict[str, object]:
    return {
        f"{service}-{component}": ("gazpacho", PINS.get(service))
        for service, component in modern.ROLE_COMPONENTS[role]
    }


# how each flavour's package database names the installed keystone
PACKAGE_QUERY = {
    "rpm": "rpm -q openstack-keystone",
    "deb": "dpkg-query -W -f '${Package}-${Version}\\n' keystone",
}


def _end_state(lab: Lab, flavour: str) -> dict[str, object]:
    state: dict[str, object] = {}
    unit = keystone.unit(flavour)
    for host in CONTROLLERS:
        state[f"{host} package"] = sh(lab, host, PACKAGE_QUERY[flavour]).stdout.strip()
        state[f"{host} {unit}"] = sh(lab, host, f"systemctl is-active {unit}").stdout.strip()
        state[f"{host} drained"] = sh(
            lab,
            host,
            "ls /etc/keystone/healthcheck_disable /etc/glance/healthcheck_disable "
            "/etc/cinder/healthcheck_disable /var/lib/neutron/healthcheck_disable 2>/dev/null "
            "| wc -l",
        ).stdout.strip()
    for host in (*CONTROLLERS, *COMPUTES):
        state[f"{host} stand-ins"] = _standins(lab, host)
    check = sh(lab, "controller1", "runuser -u keystone -- keystone-manage db_sync --check")
    state["db_sync --check"] = check.returncode
    for command in (
        "glance-manage db check",
        "nova-manage db online_data_migrations --max-count 1",
        "cinder-manage db online_data_migrations --max_count 1",
    ):
        state[command] = sh(lab, "controller1", command).returncode
    state["haproxy"] = _servers(lab)
    # nothing of stackstep's left on a host (apt hosts: the policy-rc.d of the upgrade)
    held = [h for h in (*CONTROLLERS, *COMPUTES) if sh(lab, h, f"test -e {POLICY}").returncode == 0]
    state["policy-rc.d"] = held
    return state


def _expected(flavour: str) -> dict[str, object]:
    package = {"rpm": "openstack-keystone-29.1.0-1.el9.x86_64", "deb": "keystone-29.1.0-0ubuntu1"}
    unit = keystone.unit(flavour)
    return {
        **{f"{h} package": package[flavour] for h in CONTROLLERS},
        **{f"{h} {unit}": "active" for h in CONTROLLERS},
        **EXPECTED,
    }


EXPECTED = {
    **{f"{h} drained": "0" for h in CONTROLLERS},  # no disable file left
    # every process on gazpacho's code, the RPC pins at gazpacho's versions (HUP/restart)
    **{f"{h} stand-ins": _expected_standins("controller") for h in CONTROLLERS},
    **{f"{h} stand-ins": _expected_standins("compute") for h in COMPUTES},
    "db_sync --check": 0,  # contracted: nothing left to expand or contract
    "glance-manage db check": 0,  # expanded, migrated and contracted
    "nova-manage db online_data_migrations --max-count 1": 0,  # nothing left to migrate
    "cinder-manage db online_data_migrations --max_count 1": 0,
    "haproxy": {f"{backend}/{h}": "UP" for backend, _, _ in BACKENDS.values() for h in CONTROLLERS},
    "policy-rc.d": [],
}


@pytest.fixture
def shared(
    ha_cloud: tuple[Lab, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Lab, Path]]:
    """The session's HA cloud (conftest.py: test_ha_cloud.py's checks ran on it first),
    upgraded here and destroyed after."""
    lab, inventory = ha_cloud
    _credentials(lab, monkeypatch)
    try:
        yield lab, inventory
    finally:
        lab.destroy()


@pytest.fixture
def ha_deb(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Lab, Path]]:
    """A fresh HA cloud of Ubuntu-style hosts, its inventory, and the load generator's
    credentials."""
    lab.destroy()  # whatever an earlier test left
    inventory = _deploy(lab, "deb")
    _credentials(lab, monkeypatch)
    try:
        yield lab, inventory
    finally:
        lab.destroy()


def _upgrade_args(inventory: Path) -> list[str]:
    """The upgrade, with the site catalog the deploy wrote beside the inventory (the
    lab's placement runs in its own unit, not in httpd). ``--parallel 2``: the lab's
    seven hosts share this machine's cores, and five `dnf` runs at once (the repository
    phase, before any node is drained) starve the keystones enough for a token issue
    (bcrypt) to pass the load generator's 2 s; a cloud's controllers have cores of their
    own. The drain, roll and undrain are one node at a time either way."""
    catalog = inventory.parent / CATALOG
    return ["upgrade", "-i", str(inventory), "--catalog", str(catalog), "--yes", "--json",
            "--load", LOAD, "--parallel", "2"]  # fmt: skip


def test_a_rolling_upgrade_fails_no_keystone_request(shared, tmp_path):
    lab, inventory = shared
    vip = _vip(inventory)
    before = _issue(lab, vip)
    assert _validates(lab, vip, before) == "200"
    done = stackstep(tmp_path / "state", *_upgrade_args(inventory), timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _assert_no_failed_request(json.loads(done.stdout))
    assert _end_state(lab, "rpm") == _expected("rpm")
    # a token issued before the upgrade still validates through the VIP after it
    assert _validates(lab, vip, before) == "200"


def _assert_no_failed_request(result: dict[str, Any]) -> None:
    """The run's load (every session: the upgrade and its resumes): keystone's streams at
    their rates over the whole run, and not one failed request to any API."""
    keystone_load = next(s for s in result["load"]["services"] if s["service"] == "keystone")
    assert result["load"]["kept_rate"], result["load"]
    streams = {s["request"]: s for s in keystone_load["streams"]}
    assert streams["validate"]["requests"] > 20 * 30  # the whole run, not a few seconds
    assert streams["issue"]["requests"] > 2 * 30
    assert keystone_load["failed"] == 0, keystone_load
    # every other API rolls too: their GETs through the VIP all answered
    others = {s["service"]: s for s in result["load"]["services"] if s["service"] != "keystone"}
    assert sorted(others) == sorted(s for s in BACKENDS if s != "keystone")
    for name, found in others.items():
        assert found["requests"] > 5 * 30, name
        assert found["failed"] == 0, found


def _journal_state(state: Path, step: str) -> str | None:
    path = state / "journal.sqlite"
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path, timeout=1) as db:
            row = db.execute("SELECT state FROM steps WHERE step_id = ?", (step,)).fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def test_deb_hosts_roll_killed_while_drained_resumed(ha_deb, tmp_path):
    """Ubuntu-style hosts: the package scripts' restarts are held during each upgrade
    (they would start the stopped units on new code before the expand); a SIGKILL while
    controller2 is out of rotation, then `stackstep resume`: every backend UP, the same
    end state, not one failed request over the run and its resume."""
    lab, inventory = ha_deb
    vip = _vip(inventory)
    before = _issue(lab, vip)
    state = tmp_path / "state"
    env = {**os.environ, "STACKSTEP_PLAIN": "1", "STACKSTEP_STATE_DIR": str(state)}
    run = subprocess.Popen(
        [sys.executable, "-m", "stackstep", *_upgrade_args(inventory)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    drained = "roll/controller2/drain/lb/wait"
    deadline = time.monotonic() + 600
    while _journal_state(state, drained) != "done":
        assert run.poll() is None, "the upgrade ended before controller2 was drained"
        assert time.monotonic() < deadline, "controller2 was never drained"
        time.sleep(0.2)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert _servers(lab)["keystone/controller2"] != "UP"  # left out of rotation
    status = stackstep(state, "status")
    assert "controller2 is OUT of rotation in the load balancer" in status.stdout, status.stdout
    resumed = stackstep(state, "resume", "--yes", "--json", timeout=1200)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    _assert_no_failed_request(json.loads(resumed.stdout))
    assert _end_state(lab, "deb") == _expected("deb")
    assert _validates(lab, vip, before) == "200"
    # the run's log shows the package scripts' restarts denied (invoke-rc.d's words)
    # during every node's upgrade: no unit started on new code before its expand
    log = next(state.glob("runs/*/run.log")).read_text(errors="replace")
    denied = "invoke-rc.d: policy-rc.d denied execution of restart."
    assert log.count(denied) >= len(CONTROLLERS) + len(COMPUTES), log[-3000:]
    assert 'action "restart" failed' not in log, log[-3000:]
