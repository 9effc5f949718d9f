from pathlib import Path

import pytest

from stackstep.drivers.detect import (
    OsRelease,
    family_of,
    parse_os_release,
    parse_redhat_release,
)

OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"


def os_release(name: str) -> OsRelease:
    return parse_os_release((OUTPUTS / "os-release" / name).read_text())


def test_this_debian_12():
    os = os_release("debian-12-host.txt")
    assert os == OsRelease("debian", (), "12", "Debian GNU/Linux 12 (bookworm)")
    assert family_of(os) == ("deb", "apt")


@pytest.mark.parametrize(
    ("name", "os_id", "like", "version", "family"),
    [
        ("rhel-7.9.handwritten.txt", "rhel", ("fedora",), "7.9", ("rpm", "yum")),
        ("centos-7.handwritten.txt", "centos", ("rhel", "fedora"), "7", ("rpm", "yum")),
        ("centos-stream-9.handwritten.txt", "centos", ("rhel", "fedora"), "9", ("rpm", "dnf")),
        ("rocky-9.3.handwritten.txt", "rocky", ("rhel", "centos", "fedora"), "9.3", ("rpm", "dnf")),
        ("ubuntu-22.04.handwritten.txt", "ubuntu", ("debian",), "22.04", ("deb", "apt")),
    ],
)
def test_published_os_release_files(name, os_id, like, version, family):
    os = os_release(name)
    assert (os.id, os.id_like, os.version_id) == (os_id, like, version)
    assert family_of(os) == family


def test_pretty_name_is_unquoted():
    assert os_release("rhel-7.9.handwritten.txt").pretty_name == (
        "Red Hat Enterprise Linux Server 7.9 (Maipo)"
    )


@pytest.mark.parametrize(
    ("name", "os_id", "version"),
    [
        ("rhel-6.10.handwritten.txt", "rhel", "6.10"),
        ("centos-6.10.handwritten.txt", "centos", "6.10"),
        ("centos-7.9.handwritten.txt", "centos", "7.9.2009"),
    ],
)
def test_redhat_release_of_el6(name, os_id, version):
    os = parse_redhat_release((OUTPUTS / "redhat-release" / name).read_text())
    assert (os.id, os.version_id) == (os_id, version)
    assert family_of(os) == ("rpm", "yum")


def test_fedora_and_derivatives_by_id_like():
    assert family_of(OsRelease("fedora", (), "39")) == ("rpm", "dnf")
    assert family_of(OsRelease("fedora", (), "21")) == ("rpm", "yum")
    assert family_of(OsRelease("almalinux", ("rhel", "centos", "fedora"), "8.9")) == ("rpm", "dnf")
    assert family_of(OsRelease("linuxmint", ("ubuntu", "debian"), "21.3")) == ("deb", "apt")


def test_unknown_system_says_what_is_known():
    os = os_release("opensuse-leap-15.5.handwritten.txt")
    with pytest.raises(ValueError, match=r"openSUSE Leap 15.5.*RHEL-like.*Debian-like"):
        family_of(os)
    with pytest.raises(ValueError):
        family_of(parse_redhat_release("Some Other OS release 1.0\n"))


def test_live_os_release_here():
    os = parse_os_release(Path("/etc/os-release").read_text())
    assert family_of(os)[0] in ("rpm", "deb")
