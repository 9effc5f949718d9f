"""A whole upgrade and a resume over real SSH (OpenSSH sshd on 127.0.0.1), host keys
verified: the fake cloud's hosts are reached through the transport users get."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from fakecloud import build_fake_cloud


def ssh_cloud(sshd, tmp_path, api):
    """The fake cloud, its hosts reached over SSH as root with the test key."""
    connection = {
        "transport": "ssh",
        "port": sshd.port,
        "user": "root",
        "identity_file": str(sshd.client_key),
    }
    return build_fake_cloud(tmp_path, api, connection)


def test_upgrade_and_resume_over_ssh(sshd, tmp_path, api):
    known = sshd.known_hosts(tmp_path / "known_hosts")
    cloud = ssh_cloud(sshd, tmp_path, api)
    (cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    before = sshd.accepted()
    failed = cloud.stackstep("upgrade", *cloud.args("--yes", "--known-hosts", str(known)))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "step services/glance/ctl/migrate-db on ctl failed" in failed.stdout
    # one persistent connection per host, opened by discovery and kept for the run
    assert sshd.accepted() - before == 3

    (cloud.host("ctl") / "fail").unlink()
    done = cloud.stackstep("resume", "--state-dir", str(cloud.state), "--known-hosts", str(known))
    assert done.returncode == 0, done.stdout + done.stderr
    assert cloud.count("ctl", "runuser -u keystone -- keystone-manage db_sync") == 1
    assert cloud.count("cmp2", "systemctl restart -- openstack-nova-compute") == 1


def test_unknown_host_key_is_refused_before_anything_changes(sshd, tmp_path, api):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    cloud = ssh_cloud(sshd, tmp_path, api)
    proc = cloud.stackstep("upgrade", *cloud.args("--yes", "--known-hosts", str(empty)))
    assert proc.returncode == 3
    assert "3 host(s) could not be read" in proc.stderr
    assert "host key" in proc.stderr.lower()
    assert cloud.calls("ctl") == []


def test_preflight_over_ssh_uses_one_connection_per_host(sshd, tmp_path, api):
    known = sshd.known_hosts(tmp_path / "known_hosts")
    cloud = ssh_cloud(sshd, tmp_path, api)
    (cloud.host("cmp2") / "units").mkdir(exist_ok=True)
    (cloud.host("cmp2") / "units" / "openstack-nova-compute").write_text("failed")
    before = sshd.accepted()
    args = ["-i", str(cloud.inventory), "--catalog", str(cloud.catalog)]
    proc = cloud.stackstep("preflight", *args, "--known-hosts", str(known))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "PROBLEM [service-health] cmp2: nova is not healthy before the upgrade" in proc.stdout
    assert "preflight: 1 problem(s) on 1 host(s)" in proc.stdout
    assert sshd.accepted() - before == 3  # discovery and checks share the connection
    assert all(cloud.changes(h) == [] for h in ("ctl", "cmp1", "cmp2"))


def test_confirmed_upgrade_reconnects_after_the_question(sshd, tmp_path, api):
    """Asked on a terminal, the upgrade closes discovery's connections before the
    question (the plan may be read for long) and connects again for the run."""
    known = sshd.known_hosts(tmp_path / "known_hosts")
    cloud = ssh_cloud(sshd, tmp_path, api)
    args = cloud.args("--known-hosts", str(known))
    before = sshd.accepted()
    main, terminal = pty.openpty()
    try:
        os.write(main, b"y\n")
        proc = subprocess.run(
            [sys.executable, "-m", "stackstep", "upgrade", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "STACKSTEP_PLAIN": "1"},
            check=False,
        )
    finally:
        os.close(main)
        os.close(terminal)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Upgrade 3 host(s)" in proc.stdout
    assert cloud.count("cmp2", "systemctl restart -- openstack-nova-compute") == 1
    assert sshd.accepted() - before == 6
