"""The lab's Grizzly cloud bites like a real one, and stackstep upgrades it to Havana.

Each test deploys a fresh Grizzly cloud (`stackstep lab deploy`, ~25 s) on the seed's
layout: controller, network, compute1, compute2, storage.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.lab.lab import Lab
from stackstep.lab.openstack.deploy import deploy


@pytest.fixture
def cloud(lab: Lab) -> Iterator[tuple[Lab, Path]]:
    done = deploy(lab, "havana")
    try:
        yield lab, done.inventory
    finally:
        lab.destroy()  # the next test gets fresh hosts


def sh(lab: Lab, host: str, script: str) -> subprocess.CompletedProcess[str]:
    return lab.host(host).exec(["sh", "-c", script], check=False)


HAVANA_REPO = "dnf -y -q install rdo-release-havana >/dev/null"


def test_a_service_started_before_its_migration_refuses(cloud):
    lab, _ = cloud
    out = sh(
        lab,
        "controller",
        f"{HAVANA_REPO} && systemctl stop openstack-glance-api "
        "openstack-glance-registry && yum -y -q upgrade '*glance*' && "
        "systemctl start openstack-glance-api; echo rc=$?; "
        "journalctl -u openstack-glance-api --no-pager | grep -i 'sync' | tail -2",
    )
    assert "rc=0" not in out.stdout, out.stdout
    assert "db sync" in out.stdout or "db_sync" in out.stdout


def test_nova_compute_fails_until_restarted_when_its_glance_client_changes(cloud):
    lab, _ = cloud
    out = sh(
        lab,
        "compute1",
        f"{HAVANA_REPO} && yum -y -q upgrade python-glanceclient && "
        "sleep 3; systemctl is-active openstack-nova-compute",
    )
    assert out.stdout.strip().endswith("failed"), out.stdout
    out = sh(
        lab,
        "compute1",
        "systemctl restart openstack-nova-compute; sleep 2; "
        "systemctl is-active openstack-nova-compute",
    )
    assert out.stdout.strip().endswith("active")


def test_neutron_migration_fails_without_the_quantum_stamp(cloud):
    lab, _ = cloud
    script = (
        f"{HAVANA_REPO} && systemctl stop quantum-server && "
        "yum -y -q upgrade '*quantum*' '*neutron*' && "
        "cp /etc/quantum/quantum.conf.rpmsave /etc/neutron/neutron.conf.x; "
        "ln -sfn /etc/neutron/plugins/openvswitch/ovs_neutron_plugin.ini "
        "/etc/neutron/plugin.ini; neutron-db-manage --config-file /etc/neutron/neutron.conf "
        "--config-file /etc/neutron/plugin.ini upgrade head; echo rc=$?"
    )
    out = sh(lab, "controller", script)
    assert "rc=1" in out.stdout, out.stdout + out.stderr


def test_stackstep_upgrades_the_grizzly_cloud_to_havana(cloud, tmp_path):
    lab, inventory = cloud
    env = {**os.environ, "STACKSTEP_PLAIN": "1", "STACKSTEP_STATE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "stackstep", "upgrade", "-i", str(inventory), "--yes", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    body = json.loads(proc.stdout)
    assert body["status"] == "done" and body["left_down"] == {}
    # nova-compute was restarted because stackstep found it older than the new glance
    # client (the lab's Grizzly nova-compute dies on it within a second, so it is also down)
    for compute in ("compute1", "compute2"):
        restarted = body["restarted"][compute]
        assert re.search(
            r"openstack-nova-compute \(started before [^)]*python-glanceclient", restarted
        )
    files = "\n".join(body["config_files"])
    for leftover in (
        "controller: /etc/keystone/keystone.conf.rpmnew",
        "compute1: /etc/nova/nova.conf.rpmnew",
        "controller: /etc/openstack-dashboard/local_settings.rpmnew",
        "network: /etc/quantum/quantum.conf.rpmsave",
    ):
        assert leftover in files
    assert "reboot needed (new kernel) on: compute1, compute2, controller, network, storage" in (
        proc.stderr
    )
    for host in ("controller", "compute1"):
        versions = sh(lab, host, "rpm -qa --qf '%{NAME} %{VERSION}\\n' 'openstack-*'").stdout
        assert "2013.1" not in versions and "2013.2" in versions
    assert sh(lab, "compute2", "systemctl is-active openstack-nova-compute").stdout.strip() == (
        "active"
    )
    settings = sh(lab, "controller", "cat /etc/openstack-dashboard/local_settings").stdout
    assert "lab-site-secret" in settings and "ALLOWED_HOSTS" in settings
