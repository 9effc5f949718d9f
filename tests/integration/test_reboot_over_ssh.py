"""A rolling reboot over real SSH (OpenSSH sshd on 127.0.0.1): the fake `systemctl
reboot` kills its own SSH session, as a real reboot cuts the connection, so stackstep
must take the dropped connection for what it is, forget it and reconnect."""

from __future__ import annotations

from fakecloud import REBOOT_TOOLS, build_fake_cloud

OLD, NEW = "5.14.0-70.el9.x86_64", "5.14.0-362.el9.x86_64"


def test_rolling_reboot_over_ssh_reconnects_after_the_connection_drops(sshd, tmp_path, api):
    known = sshd.known_hosts(tmp_path / "known_hosts")
    connection = {
        "transport": "ssh",
        "port": sshd.port,
        "user": "root",
        "identity_file": str(sshd.client_key),
    }
    cloud = build_fake_cloud(tmp_path, api, connection)
    for host in ("ctl", "cmp1", "cmp2"):
        cloud.link(host, *REBOOT_TOOLS)
        (cloud.host(host) / "reboot-cuts-ssh").write_text("")
    kernels = f"kernel-{NEW}  Tue 02 Jan 2024\nkernel-{OLD}  Mon 01 Jan 2024\n"
    (cloud.host("cmp1") / "kernels").write_text(kernels)
    (cloud.host("cmp1") / "uname-after-reboot").write_text(NEW + "\n")

    before = sshd.accepted()
    proc = cloud.stackstep(
        "reboot",
        *("-i", str(cloud.inventory), "--catalog", str(cloud.catalog)),
        *("--state-dir", str(cloud.state), "--known-hosts", str(known)),
        *("--yes", "--no-disable", "--boot-timeout", "30"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the connection dropped" in proc.stdout
    assert "rebooted (1): cmp1" in proc.stdout
    assert f"running {NEW} (was {OLD})" in proc.stdout
    assert cloud.count("cmp1", "systemctl reboot") == 1
    assert cloud.count("ctl", "systemctl reboot") == 0
    # discovery and the reboot check: 3 connections each; cmp1: one before its reboot, and
    # a new one after (the first was cut)
    assert sshd.accepted() - before == 8
