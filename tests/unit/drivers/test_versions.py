import shutil
import subprocess

import pytest

from stackstep.drivers.kernels import kernel_version_key
from stackstep.drivers.versions import deb_version_key, rpm_evr_key, rpm_version_key, split_evr

# (older, newer) pairs, each checked against the real rpm / dpkg below when present
RPM_PAIRS = [
    ("5.14.0-70.13.1.el9_0", "5.14.0-362.el9"),
    ("5.14.0-362.el9", "5.14.0-362.8.1.el9_3"),
    ("3.10.0-1160.el7", "3.10.0-1160.118.1.el7"),
    ("1.0~rc1", "1.0"),
    ("1.0", "1.0^git1"),
    ("1.0^git1", "1.0.1"),
    ("1.0", "1.0a"),
    ("1.0a", "1.0.1"),
    ("2.0", "10.0"),
    ("el7", "el8"),
    ("1.el9", "1.el9_0"),
    ("17.0.13-1.el7ost", "17.0.13-2.el7ost"),
]
DEB_PAIRS = [
    ("6.1.27-1", "6.1.112-1"),
    ("1:9.2p1-2+deb12u6", "1:9.2p1-2+deb12u10"),
    ("5.2.15-2+b8", "5.2.15-2+b13"),
    ("20230311+deb12u1", "20250419~deb12u2"),
    ("1.0~rc1", "1.0"),
    ("1.0", "1.0+b1"),
    ("1.0", "1.0-1"),
    ("1.0a", "1.0+"),
    ("2:27.1.0-1", "2:27.2.0-1"),
    ("9.9", "1:0.1"),
    ("1.0~~", "1.0~"),
    ("0.20.4-3", "0.20.4-3+deb12u1"),
]


@pytest.mark.parametrize(("old", "new"), RPM_PAIRS)
def test_rpm_order(old, new):
    assert rpm_version_key(old) < rpm_version_key(new)


@pytest.mark.parametrize(("old", "new"), DEB_PAIRS)
def test_deb_order(old, new):
    assert deb_version_key(old) < deb_version_key(new)


def test_equal_versions():
    assert rpm_version_key("1.01") == rpm_version_key("1.1")
    assert deb_version_key("1.0") == deb_version_key("1.0-0")
    assert deb_version_key("0:1.0") == deb_version_key("1.0")


def test_kernels_of_both_families():
    assert kernel_version_key("5.14.0-362.el9.x86_64") > kernel_version_key(
        "5.14.0-70.13.1.el9_0.x86_64"
    )
    assert kernel_version_key("6.1.0-26-amd64") > kernel_version_key("6.1.0-9-amd64")


def test_evr():
    assert split_evr("1:27.1.0-1.el9") == (1, "27.1.0", "1.el9")
    assert split_evr("27.1.0") == (0, "27.1.0", "")
    assert rpm_evr_key("1:1.0-1") > rpm_evr_key("2.0-1")  # the epoch wins
    assert rpm_evr_key("1:27.2.0-1.el9") > rpm_evr_key("1:27.1.0-9.el9")


@pytest.mark.skipif(not shutil.which("rpm"), reason="rpm not installed")
def test_rpm_agrees():
    lua = " ".join(f'print(rpm.vercmp("{a}", "{b}") .. " ")' for a, b in RPM_PAIRS)
    out = subprocess.run(
        ["rpm", "--eval", "%{lua:" + lua + "}"], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["-1"] * len(RPM_PAIRS)


@pytest.mark.skipif(not shutil.which("dpkg"), reason="dpkg not installed")
@pytest.mark.parametrize(("old", "new"), DEB_PAIRS)
def test_dpkg_agrees(old, new):
    subprocess.run(["dpkg", "--compare-versions", old, "lt", new], check=True)
