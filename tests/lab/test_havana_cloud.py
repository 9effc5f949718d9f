"""The lab's Grizzly cloud bites like a real one, and stackstep upgrades it to Havana.

Each test deploys a fresh Grizzly cloud (`stackstep lab deploy`, ~25 s) on the seed's
layout: controller, network, compute1, compute2, storage.
"""

from __future__ import annotations

from labcloud import sh

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
