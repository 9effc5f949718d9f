"""The safety gates and the after-upgrade half of the procedure, on the lab's Grizzly cloud
(issue 6's acceptance): preflight finds every injected problem at once; the upgrade
restarts what runs stale code, the edited config file is listed, diffed and merged;
a forced migration failure is rolled back with `stackstep restore`; hosts with a new
kernel are rebooted one at a time, each health-gated.

Each test deploys a fresh cloud (`cloud` fixture, ~20 s): controller, network,
compute1, compute2, storage.
"""

from __future__ import annotations

import json
import re

from labcloud import sh, stackstep

NEW_KERNEL = "5.14.0-162.6.1.el9.x86_64"
# the storage host's repository answers no more (nothing listens on port 1)
REPO_FILE = "/etc/yum.repos.d/lab-grizzly.repo"
BREAK_REPO = (
    f"cp {REPO_FILE} /root/repo.saved && "
    f"sed -i 's#^baseurl=http://[^/]*/#baseurl=http://127.0.0.1:1/#' {REPO_FILE}"
)


def test_preflight_reports_three_injected_problems_at_once(cloud, tmp_path):
    lab, inventory = cloud
    assert stackstep(tmp_path, "preflight", "-i", str(inventory)).returncode == 0
    sh(lab, "controller", "systemctl stop openstack-glance-api")
    small = sh(lab, "compute1", "mount -t tmpfs -o size=16m tmpfs /var/cache")
    assert small.returncode == 0, small.stderr
    assert sh(lab, "storage", BREAK_REPO).returncode == 0

    proc = stackstep(tmp_path, "preflight", "-i", str(inventory), "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    body = json.loads(proc.stdout)
    found = {(p["host"], p["check"]): p for p in body["problems"]}
    assert sorted(found) == [
        ("compute1", "disk-space"),
        ("controller", "service-health"),
        ("storage", "repository"),
    ], body
    assert "not running: openstack-glance-api" in found["controller", "service-health"]["message"]
    assert "--force" in found["controller", "service-health"]["fix"]
    assert "/var/cache" in found["compute1", "disk-space"]["message"]
    assert "rdo-release-havana" in found["storage", "repository"]["message"]

    # the upgrade's own preflight stops it the same way, before anything changes
    upgrade = stackstep(tmp_path, "upgrade", "-i", str(inventory), "--yes")
    assert upgrade.returncode == 3, upgrade.stdout + upgrade.stderr
    assert "preflight found problems on 3 host(s); nothing was changed" in upgrade.stdout
    for host in ("controller", "compute1", "storage"):
        assert sh(lab, host, "rpm -q rdo-release-havana").returncode != 0

    sh(lab, "controller", "systemctl start openstack-glance-api")
    sh(lab, "compute1", "umount /var/cache")
    sh(lab, "storage", f"cp /root/repo.saved {REPO_FILE}")
    ready = stackstep(tmp_path, "preflight", "-i", str(inventory))
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "preflight: 5 host(s) ready" in ready.stdout


def test_upgrade_restarts_stale_code_merges_the_edited_config_and_reboots(cloud, tmp_path):
    lab, inventory = cloud
    proc = stackstep(tmp_path, "upgrade", "-i", str(inventory), "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    body = json.loads(proc.stdout)
    run = body["run"]
    assert body["status"] == "done" and body["left_down"] == {}
    # nova-compute was restarted: the lab's Grizzly nova-compute dies within a second of
    # the new glance client ("it had stopped"), or, read before it died, its stand-in code
    # was replaced ("... changed after it started") or the Python modules it loaded were
    # ("python-glanceclient changed Python 3.11 modules after it started, e.g. ...")
    for compute in ("compute1", "compute2"):
        restarted = body["restarted"][compute]
        assert re.search(
            r"openstack-nova-compute \((it had stopped|[^)]*changed[^)]* after it started)",
            restarted,
        ), restarted
        assert sh(lab, compute, "systemctl is-active openstack-nova-compute").stdout.strip() == (
            "active"
        )
    files = "\n".join(body["config_files"])
    for leftover in (
        "controller: /etc/keystone/keystone.conf.rpmnew",
        "compute1: /etc/nova/nova.conf.rpmnew",
        "controller: /etc/openstack-dashboard/local_settings.rpmnew",
        "network: /etc/quantum/quantum.conf.rpmsave",
    ):
        assert leftover in files
    for host in ("controller", "compute1"):
        versions = sh(lab, host, "rpm -qa --qf '%{NAME} %{VERSION}\\n' 'openstack-*'").stdout
        assert "2013.1" not in versions and "2013.2" in versions
    settings = sh(lab, "controller", "cat /etc/openstack-dashboard/local_settings").stdout
    assert "lab-site-secret" in settings and "ALLOWED_HOSTS" in settings

    # nova.conf: the site added osapi_compute_workers before the upgrade; Havana's default
    # moves network_api_class from quantumv2 to neutronv2
    shown = stackstep(tmp_path, "configs", run, "--host", "compute1")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "/etc/nova/nova.conf.rpmnew (rpmnew: new default set aside)" in shown.stdout
    assert "-network_api_class = nova.network.quantumv2.api.API" in shown.stdout
    assert "+network_api_class = nova.network.neutronv2.api.API" in shown.stdout
    merged = stackstep(
        tmp_path, "configs", run, "merge", "/etc/nova/nova.conf", "--host", "compute1", "--yes"
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "three-way" in merged.stdout, merged.stdout
    nova = sh(lab, "compute1", "cat /etc/nova/nova.conf").stdout
    assert "network_api_class = nova.network.neutronv2.api.API" in nova  # theirs: a new default
    assert "osapi_compute_workers = 4" in nova  # ours: the site's edit
    assert "quantumv2" not in nova and "2013.2" in nova
    leftovers = sh(lab, "compute1", "ls /etc/nova").stdout.split()
    assert "nova.conf.rpmnew" not in leftovers
    assert f"nova.conf.stackstep-{run}" in leftovers  # the file before the merge

    # rolling reboot: the controller (APIs probed) first, then compute1, each health-gated
    boots = {
        h: sh(lab, h, "cat /proc/sys/kernel/random/boot_id").stdout
        for h in ("controller", "compute1")
    }
    rebooted = stackstep(
        tmp_path, "reboot", run, "--hosts", "controller,compute1", "--no-disable", "--yes", "--json"
    )
    assert rebooted.returncode == 0, rebooted.stdout + rebooted.stderr
    result = json.loads(rebooted.stdout)
    assert result["rebooted"] == ["controller", "compute1"]
    messages = {h["host"]: h["message"] for h in result["hosts"]}
    assert "GET http://10.254.0.11:5000/v3 (from the host) -> 200" in messages["controller"]
    for host in ("controller", "compute1"):
        assert sh(lab, host, "uname -r").stdout.strip() == NEW_KERNEL
        assert sh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout != boots[host]
    # a host that does not come back healthy stops the rolling reboot
    sh(lab, "compute2", "systemctl disable -q openstack-nova-compute")
    stopped = stackstep(
        tmp_path,
        "reboot",
        run,
        "--hosts",
        "compute2,storage",
        "--no-disable",
        "--gate-timeout",
        "5",
        "--yes",
        "--json",
    )
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    outcome = json.loads(stopped.stdout)
    assert outcome["failed"] == ["compute2"] and outcome["skipped"] == ["storage"], outcome
    assert "openstack-nova-compute" in outcome["hosts"][0]["message"]
    assert sh(lab, "storage", "uname -r").stdout.strip() != NEW_KERNEL


def test_a_failed_migration_is_rolled_back_with_restore(cloud, tmp_path):
    lab, inventory = cloud
    seed = (
        'for i in $(seq 1 40); do echo "INSERT INTO images (id, name, size, status, is_public, '
        "deleted) VALUES ('img-$i', 'image $i', $i, 'active', 1, 0); INSERT INTO "
        "image_properties (image_id, name, value, deleted) VALUES ('img-$i', 'os', 'cirros', 0);"
        '"; done | mysql glance'
    )
    assert sh(lab, "controller", seed).returncode == 0
    counts = (
        "mysql -N glance -e 'SELECT COUNT(*) FROM images; SELECT COUNT(*) FROM "
        "image_properties; SELECT version FROM migrate_version'"
    )
    before = sh(lab, "controller", counts).stdout.split()
    assert before == ["40", "40", "20"]
    # the migration to Havana fails half way: glance may ALTER (step 26) but not CREATE
    # (step 28), as when a DBA narrowed the grants
    sh(lab, "controller", "mysql -e \"REVOKE CREATE ON glance.* FROM 'glance'@'%'\"")

    proc = stackstep(tmp_path, "upgrade", "-i", str(inventory), "--yes", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    body = json.loads(proc.stdout)
    assert body["failures"][0]["step"] == "services/glance/controller/migrate-db"
    assert "glance" in body["left_down"]
    assert sh(lab, "controller", counts).stdout.split()[2] == "26"  # half migrated

    sh(lab, "controller", "mysql -e \"GRANT ALL ON glance.* TO 'glance'@'%'\"")  # the fix
    restored = stackstep(tmp_path, "restore", body["run"], "glance", "--yes", "--json")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert json.loads(restored.stdout)["status"] == "restored"
    assert sh(lab, "controller", counts).stdout.split() == before  # rows and schema back
    columns = sh(lab, "controller", "mysql -N glance -e 'SHOW COLUMNS FROM image_locations'")
    assert "meta_data" not in columns.stdout
    versions = sh(lab, "controller", "rpm -qa --qf '%{NAME} %{VERSION}\\n' '*glance*'").stdout
    assert "openstack-glance 2013.1" in versions and "2013.2" not in versions
    units = "systemctl is-active openstack-glance-api openstack-glance-registry"
    assert sh(lab, "controller", units).stdout.split() == ["active", "active"]
    api = sh(lab, "controller", "curl -s -o /dev/null -w '%{http_code}' http://10.254.0.11:9292/")
    assert api.stdout == "300"
