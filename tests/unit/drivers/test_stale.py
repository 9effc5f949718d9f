"""Stale-code detection: process start times and package install times, on recorded
output (tests/data/outputs/stale/)."""

from __future__ import annotations

from stackstep.drivers import stale
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "stale"


def test_clock_gives_process_starts_from_elapsed_seconds():
    clock = stale.parse_clock((OUT / "clock-ps.txt").read_text())
    assert clock is not None
    assert clock.now == 1795713967 and clock.uptime == 17350.97
    assert clock.starts == {1: 1795713967 - 17350, 13336: 1795713967 - 6002}
    assert 999999 not in clock.starts  # a PID that is gone is simply absent


def test_clock_converts_systemd_monotonic_times_for_units_that_died():
    clock = stale.parse_clock((OUT / "clock-only.txt").read_text())
    assert clock is not None and clock.starts == {}
    # a unit that started 51 s after boot, seen 17351.03 s after boot
    assert clock.from_monotonic(51_000_000) == 1795713967 - 17300


def test_clock_tolerates_nothing_and_garbage():
    assert stale.parse_clock("") is None
    assert stale.parse_clock("ps: error\n") is None
    assert stale.parse_clock("100\n1.0\n  7 x\n  8 5\n").starts == {8: 95}


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
    assert [(s.unit, s.packages) for s in found] == [
        ("openstack-nova-compute", ("python-glanceclient",))
    ]
    assert found[0].because() == "started before python-glanceclient was installed"
    many = stale.Stale("u", 0, ("a", "b", "c", "d", "e", "f"), 9)
    assert many.because() == "started before a, b, c, d and 2 more were installed"
    # a package that matches no pattern (lab-base, a kernel) never makes a unit stale
    assert stale.stale_units({"x": 0}, [(5, "lab-base")], ["python-*"]) == []
    # the same second counts as stale (one-second resolution: restart on the safe side)
    assert stale.stale_units({"x": 5}, [(5, "python-a")], ["python-*"])[0].unit == "x"


def test_commands_are_one_round_trip_each():
    argv = stale.clock_command([1, 22]).reveal()
    assert argv[0:2] == ["sh", "-c"] and argv[3:] == ["sh", "1,22"]
    assert "/proc/uptime" in argv[2] and "ps -o pid=,etimes=" in argv[2]
    assert stale.install_times_command("dnf").reveal()[:2] == ["rpm", "-qa"]
    assert "/var/lib/dpkg/info/*.list" in stale.install_times_command("apt").reveal()[2]
