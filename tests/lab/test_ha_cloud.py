"""The lab's HA cloud (`stackstep lab deploy --scenario ha`): real keystone 28.1.0 on three
controllers behind Debian's HAProxy on lb, MariaDB on db. Deployed once
(~40 s with the golden image and keystone RPMs cached) and shared with the rolling upgrade
of test_ha_rolling.py, which runs after these checks and destroys it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stackstep.lab import network
from stackstep.lab.lab import Lab
from stackstep.lab.openstack import keystone
from stackstep.lab.openstack.ha import (
    HEALTHCHECK_DISABLE,
    KEY_REPOSITORIES,
    server_status,
    vip_token,
    vip_validate,
    wait_status,
)

pytestmark = pytest.mark.slow

CONTROLLERS = ("controller1", "controller2", "controller3")
VIP = network.host_ip(1)  # lb, the first host of the layout


@pytest.fixture
def ha(ha_cloud: tuple[Lab, Path]) -> tuple[Lab, Path]:
    """The session's HA cloud (conftest.py), shared with test_ha_rolling.py: every
    check here leaves it as it found it."""
    return ha_cloud


def sh(lab: Lab, host: str, script: str) -> str:
    done = lab.host(host).exec(["sh", "-c", script], check=False)
    return done.stdout + done.stderr


FIRST_VALIDATIONS = """import json, sys, threading, urllib.error, urllib.request
token, codes = sys.argv[1], []
def validate(address):
    req = urllib.request.Request(f"http://{address}:5000/v3/auth/tokens",
                                 headers={"X-Auth-Token": token, "X-Subject-Token": token})
    try:
        codes.append(urllib.request.urlopen(req, timeout=30).status)
    except urllib.error.HTTPError as exc:
        codes.append(exc.code)
threads = [threading.Thread(target=validate, args=(a,)) for a in sys.argv[2:] for _ in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(sorted(codes)))
"""


def test_haproxy_balances_three_keystones_behind_the_vip(ha: tuple[Lab, Path]):
    lab, inventory = ha
    lb = lab.host("lb")
    # a keystone's first concurrent validations race its lazy policy load (403): the
    # deploy (and the inventory's smoke check) validate once on each node before traffic
    token = vip_token(lb, VIP)
    controllers = [network.host_ip(i) for i in (2, 3, 4)]
    first = lb.exec(["python3", "-c", FIRST_VALIDATIONS, token, *controllers]).stdout
    assert first.strip() == str([200] * 48), first
    assert sh(lab, "lb", "systemctl is-enabled haproxy; systemctl is-active haproxy").split() == [
        "enabled",
        "active",
    ]
    assert server_status(lb) == dict.fromkeys(CONTROLLERS, "UP")
    token = vip_token(lb, VIP)
    assert vip_validate(lb, VIP, token, token) == "200"
    assert vip_validate(lb, VIP, token, "not-a-token") == "404"
    # shared fernet keys: a token issued through the VIP validates on every controller
    for address in (network.host_ip(i) for i in (2, 3, 4)):
        assert vip_validate(lb, address, token, token) == "200", address
    # the catalog points at the VIP, and the inventory says where the load balancer is
    catalog = sh(lab, "lb", f"curl -s -H 'X-Auth-Token: {token}' http://{VIP}:5000/v3/endpoints")
    assert catalog.count(f'"url": "http://{VIP}:5000/v3/"') == 3, catalog
    text = inventory.read_text()
    assert f"vip: {VIP}\nload_balancer:\n  hosts: [lb]\n" in text
    assert (
        "backends: {keystone: keystone, glance: glance, placement: placement, nova: nova, "
        "neutron: neutron, cinder: cinder}" in text
    )


def test_openrc_issues_a_token_through_the_vip(ha: tuple[Lab, Path]):
    lab, _ = ha
    openrc = lab.root / "openrc-ha"
    assert stat.S_IMODE(openrc.stat().st_mode) == 0o600
    script = (
        f". {openrc}; curl -s -o /dev/null -w '%{{http_code}}' -H 'Content-Type: application/json'"
        ' -d "{\\"auth\\": {\\"identity\\": {\\"methods\\": [\\"password\\"], \\"password\\": '
        '{\\"user\\": {\\"name\\": \\"$OS_USERNAME\\", \\"domain\\": {\\"id\\": '
        '\\"$OS_USER_DOMAIN_ID\\"}, \\"password\\": \\"$OS_PASSWORD\\"}}}}}" '
        '"$OS_AUTH_URL/auth/tokens"'
    )
    done = subprocess.run(
        ["ip", "netns", "exec", network.host_ns("lb"), "sh", "-c", script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout == "201", done.stdout + done.stderr


def test_the_disable_file_takes_a_server_out_of_haproxy_and_back(ha: tuple[Lab, Path]):
    lab, _ = ha
    lb, node = lab.host("lb"), "controller2"
    url = "http://127.0.0.1:5000/healthcheck"
    try:
        sh(lab, node, f"touch {HEALTHCHECK_DISABLE}")
        # keystone answers 503 at once, without a restart ...
        assert sh(lab, node, f"curl -s -o /dev/null -w '%{{http_code}}' {url}") == "503"
        # ... and HAProxy marks it DOWN after 5 failed checks 2 s apart (fall 5, inter 2000)
        assert 6 <= wait_status(lb, [node], "DOWN", 30) <= 16
        assert server_status(lb) == {**dict.fromkeys(CONTROLLERS, "UP"), node: "DOWN"}
        token = vip_token(lb, VIP)  # the other two serve
        assert vip_validate(lb, VIP, token, token) == "200"
    finally:
        sh(lab, node, f"rm -f {HEALTHCHECK_DISABLE}")
    assert sh(lab, node, f"curl -s -o /dev/null -w '%{{http_code}}' {url}") == "200"
    assert wait_status(lb, [node], "UP", 15) <= 8  # rise 2
    assert server_status(lb) == dict.fromkeys(CONTROLLERS, "UP")


def test_controllers_share_identical_key_repositories(ha: tuple[Lab, Path]):
    lab, _ = ha
    listing = " ".join(KEY_REPOSITORIES)
    script = (
        f"find {listing} -exec stat -c '%U:%G %a %n' {{}} + | sort; "
        f"find {listing} -type f | sort | xargs sha256sum"
    )
    first = sh(lab, "controller1", script)
    assert first.count("keystone:keystone 600 /etc/keystone/fernet-keys/") == 2  # keys 0 and 1
    assert "keystone:keystone 700 /etc/keystone/credential-keys\n" in first
    for other in CONTROLLERS[1:]:
        assert sh(lab, other, script) == first, other


def test_the_database_takes_keystones_migrations_from_every_controller(ha: tuple[Lab, Path]):
    lab, _ = ha
    # 28.1.0's schema is fully migrated: db_sync --check says 0 (nothing to do)
    check = lab.host("controller1").exec(
        ["runuser", "-u", "keystone", "--", "keystone-manage", "db_sync", "--check"], check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # 29.1.0's expand creates triggers as keystone's user: MariaDB on db allows it
    probe = (
        "import pymysql\n"
        f"c = pymysql.connect(host={network.host_ip(5)!r}, user='keystone', "
        "password='keystone', database='keystone')\n"
        "cur = c.cursor()\n"
        "cur.execute('CREATE TABLE lab_probe (id INT)')\n"
        "try:\n"
        "    cur.execute('CREATE TRIGGER lab_probe_bi BEFORE INSERT ON lab_probe "
        "FOR EACH ROW SET NEW.id = NEW.id + 1')\n"
        "finally:\n"
        "    cur.execute('DROP TABLE lab_probe')\n"
        "print('trigger created')\n"
    )
    python = f"{keystone.venv_path('28.1.0')}/bin/python"
    done = lab.host("controller3").exec([python, "-c", probe], check=False)
    assert done.stdout.strip() == "trigger created", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hosts", "controller,db"], "the ha scenario needs hosts lb, db and controller..."),
        (["--hosts", "lb,db,controller1:xyz"], "'controller1:xyz': the flavour after ':' is rpm"),
        (["--hosts", "lb,db,controller_1"], "'controller_1' is not a usable host name"),
        (["--hosts", "lb,db,controller1,compute1:deb"], "the controllers and computes mix rpm"),
        (["--hosts", "lb,db,controller1:rpm,controller2", "--flavour", "deb"], "mix rpm and deb"),
        (["--scenario", "havana", "--flavour", "deb"], "--flavour is for --scenario ha"),
    ],
)  # fmt: skip
def test_a_bad_layout_is_refused_as_bad_input(args: list[str], message: str, tmp_path: Path):
    """Exit 2 with the reason, before any lab host is touched."""
    env = {**os.environ, "STACKSTEP_LAB_DIR": str(tmp_path / "lab"), "STACKSTEP_PLAIN": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "stackstep", "lab", "deploy", "--scenario", "ha", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    if done.returncode == 2 and "needs root" in done.stderr:
        pytest.skip("the lab needs root")
    assert (done.returncode, message in done.stderr) == (2, True), done.stderr
    assert not (tmp_path / "lab").exists()
