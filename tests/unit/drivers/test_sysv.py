from pathlib import Path

import pytest

from stackstep.drivers.sysv import chkconfig_list_command, parse_chkconfig_list, parse_sysv_status

DATA = Path(__file__).resolve().parents[2] / "data" / "outputs" / "sysv"


@pytest.mark.parametrize(
    ("name", "exit_status", "running"),
    [
        # real: a throwaway LSB script using Debian's status_of_proc
        ("status-debian-running-rc0.txt", 0, True),
        ("status-debian-stopped-rc3.txt", 3, False),
        ("status-debian-dead-pidfile-rc1.txt", 1, False),
        ("status-debian-unrecognized-rc1.txt", 1, None),
        # hand-written: RHEL 6 initscripts' status() wording
        ("status-rhel6-running-rc0.handwritten.txt", 0, True),
        ("status-rhel6-stopped-rc3.handwritten.txt", 3, False),
        ("status-rhel6-dead-pidfile-rc1.handwritten.txt", 1, False),
        ("status-rhel6-unrecognized-rc1.handwritten.txt", 1, None),
    ],
)
def test_lsb_status(name, exit_status, running):
    assert parse_sysv_status(exit_status, (DATA / name).read_text()) is running


def test_unknown_exit_status_is_unknown():
    assert parse_sysv_status(4, "") is None
    assert parse_sysv_status(127, "service: command not found") is None


def test_chkconfig_rhel6_runlevel_3():
    services = parse_chkconfig_list((DATA / "chkconfig-list-rhel6.handwritten.txt").read_text())
    assert services["openstack-nova-api"] is True
    assert services["openstack-glance-api"] is False
    assert services["openstack-nova-compute"] is False  # on in runlevel 5 only
    assert services["httpd"] is True
    assert "rsync" not in services and "tftp" not in services  # xinetd services
    assert len(services) == 15


def test_chkconfig_other_runlevel():
    text = (DATA / "chkconfig-list-rhel6.handwritten.txt").read_text()
    assert parse_chkconfig_list(text, runlevel=5)["openstack-nova-compute"] is True


def test_chkconfig_rhel7_note_is_skipped():
    services = parse_chkconfig_list((DATA / "chkconfig-list-rhel7.handwritten.txt").read_text())
    assert services == {"netconsole": False, "network": True}


def test_chkconfig_runs_untranslated():
    assert chkconfig_list_command().render() == "LC_ALL=C chkconfig --list"
