"""Stale-code detection: process start times and package install times, on recorded
output (tests/data/outputs/stale/)."""

from __future__ import annotations

from stackstep.drivers import stale
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "stale"


def test_process_starts_from_clock_and_elapsed_seconds():
    starts = stale.parse_process_starts((OUT / "ps-etimes.txt").read_text())
    assert starts == {1: 1795708962 - 12346, 5455: 1795708962, 13336: 1795708962 - 997}
    assert 999999 not in starts  # a PID that is gone is simply absent


def test_process_starts_tolerates_nothing_and_garbage():
    assert stale.parse_process_starts("") == {}
    assert stale.parse_process_starts("ps: error\n") == {}
    assert stale.parse_process_starts("100\n  7 x\n  8 5\n") == {8: 95}


def test_rpm_install_times():
    installs = stale.parse_install_times((OUT / "rpm-qa-installtime.txt").read_text())
    assert (1795708981, "python-glanceclient") in installs
    assert (1795708979, "openstack-nova-compute") in installs
    assert len(installs) == 7


def test_dpkg_install_times_name_packages_without_arch():
    installs = stale.parse_install_times((OUT / "dpkg-info-stat.txt").read_text())
    names = {name for _, name in installs}
    assert "python3-apt" in names
    assert "libc6" in names and not any(":" in n or n.endswith(".list") for n in names)


def test_install_times_skip_unreadable_lines():
    assert stale.parse_install_times("stat: cannot stat\n\n12 ok\n") == [(12, "ok")]


def test_only_units_started_before_a_matching_package_are_stale():
    installs = stale.parse_install_times((OUT / "rpm-qa-installtime.txt").read_text())
    starts = {
        "openstack-nova-compute": 1795708980,  # before the new glance client
        "openstack-nova-api": 1795708990,  # after it
    }
    found = stale.stale_units(starts, installs, ["python-*", "openstack-*"])
    assert [(s.unit, s.package) for s in found] == [
        ("openstack-nova-compute", "python-glanceclient")
    ]
    # a package that matches no pattern (lab-base, a kernel) never makes a unit stale
    assert stale.stale_units({"x": 0}, [(5, "lab-base")], ["python-*"]) == []
    # the same second counts as stale (one-second resolution: restart on the safe side)
    assert stale.stale_units({"x": 5}, [(5, "python-a")], ["python-*"])[0].unit == "x"


def test_commands_are_one_round_trip_each():
    assert stale.process_starts_command([1, 22]).reveal() == [
        "sh",
        "-c",
        'date +%s && ps -o pid=,etimes= -p "$1"',
        "sh",
        "1,22",
    ]
    assert stale.install_times_command("dnf").reveal()[:2] == ["rpm", "-qa"]
    assert "/var/lib/dpkg/info/*.list" in stale.install_times_command("apt").reveal()[2]
