"""Where a merge base comes from: owners, cached packages, the old version, extraction."""

from __future__ import annotations

import subprocess

import pytest

from pkgbuild import build_deb, build_rpm, have
from stackstep.drivers import pkgcache
from stackstep.drivers.pkgcache import CachedPackage, choose_base, parse_cached, parse_owner

CONF = "/etc/keystone/keystone.conf"


def test_owner_from_rpm_and_dpkg():
    assert parse_owner("rpm", CONF, "openstack-keystone\n") == "openstack-keystone"
    assert parse_owner("rpm", CONF, f"file {CONF} is not owned by any package\n") is None
    assert parse_owner("deb", CONF, f"keystone: {CONF}\n") == "keystone"
    assert parse_owner("deb", CONF, f"keystone-common:amd64, keystone: {CONF}\n") == (
        "keystone-common"
    )
    text = f"diversion by site from: {CONF}\ndiversion by site to: {CONF}.real\nkeystone: {CONF}\n"
    assert parse_owner("deb", CONF, text) == "keystone"
    assert pkgcache.parse_version("(none):2013.2-1.el6\n") == "2013.2-1.el6"
    assert pkgcache.parse_version("2:25.0.0-0ubuntu1\n") == "2:25.0.0-0ubuntu1"


RPM_CACHE = """\
/var/cache/yum/x86_64/6/openstack-grizzly/packages/openstack-keystone-2013.1.4-1.el6.noarch.rpm
/var/cache/yum/x86_64/6/openstack-grizzly/packages/openstack-keystone-2013.1.3-1.el6.noarch.rpm
/var/cache/yum/x86_64/6/openstack-grizzly/packages/openstack-keystone-doc-2013.1.4-1.el6.noarch.rpm
/var/cache/yum/x86_64/6/openstack-havana/packages/openstack-keystone-2013.2-1.el6.noarch.rpm
"""


def test_cached_rpms_of_exactly_the_package():
    found = parse_cached("rpm", "openstack-keystone", RPM_CACHE)
    assert [c.version for c in found] == ["2013.1.4-1.el6", "2013.1.3-1.el6", "2013.2-1.el6"]


def test_cached_debs_with_an_epoch():
    text = "/var/cache/apt/archives/keystone_2%3a25.0.0-0ubuntu1_all.deb\n"
    text += "/var/cache/apt/archives/keystone-doc_2%3a25.0.0-0ubuntu1_all.deb\n"
    assert parse_cached("deb", "keystone", text) == [
        CachedPackage(
            "/var/cache/apt/archives/keystone_2%3a25.0.0-0ubuntu1_all.deb", "2:25.0.0-0ubuntu1"
        )
    ]


def test_the_base_is_the_version_before_the_upgrade():
    cached = parse_cached("rpm", "openstack-keystone", RPM_CACHE)
    # known from the run's facts (with an epoch, which file names do not carry)
    assert (
        choose_base("rpm", cached, "2013.2-1.el6", "0:2013.1.3-1.el6").version == "2013.1.3-1.el6"
    )
    # known but not cached: no guessing
    assert choose_base("rpm", cached, "2013.2-1.el6", "2013.1.5-1.el6") is None
    # unknown: the newest one older than the installed package
    assert choose_base("rpm", cached, "2013.2-1.el6", None).version == "2013.1.4-1.el6"
    assert choose_base("rpm", cached, None, None) is None
    debs = [CachedPackage("a", "2:24.0.0-0ubuntu1"), CachedPackage("b", "2:25.0.0-0ubuntu1")]
    assert choose_base("deb", debs, "2:25.0.0-0ubuntu1", None).path == "a"


def test_download_commands_name_the_exact_old_version():
    dnf = pkgcache.download_command("dnf", "openstack-keystone", "1:2013.1.4-1.el6", "/var/tmp/x")
    assert (
        dnf.render() == "dnf -q download --destdir /var/tmp/x -- openstack-keystone-2013.1.4-1.el6"
    )
    yum = pkgcache.download_command("yum", "openstack-keystone", "2013.1.4-1.el6", "/var/tmp/x")
    assert yum.to_json()[0] == "yumdownloader"
    apt = pkgcache.download_command("apt", "keystone", "2:24.0.0-0ubuntu1", "/var/tmp/x")
    assert apt.to_json()[-1] == "keystone=2:24.0.0-0ubuntu1"


def _extract(family, package, path):
    command = pkgcache.extract_command(family, str(package), path)
    return subprocess.run(command.reveal(), capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    not (have("rpmbuild", "rpm2cpio") and (have("cpio") or have("rpm2archive"))),
    reason="needs rpmbuild, rpm2cpio and cpio or rpm2archive",
)
def test_a_file_comes_out_of_a_real_rpm(tmp_path):
    rpm = build_rpm(tmp_path, "openstack-keystone", "2013.1.4", "1.el6", {CONF: "[DEFAULT]\n"})
    assert rpm.name == "openstack-keystone-2013.1.4-1.el6.noarch.rpm"
    assert parse_cached("rpm", "openstack-keystone", f"{rpm}\n")[0].version == "2013.1.4-1.el6"
    got = _extract("rpm", rpm, CONF)
    assert (got.returncode, got.stdout) == (0, "[DEFAULT]\n")
    assert _extract("rpm", rpm, "/etc/keystone/nope.conf").stdout == ""


@pytest.mark.skipif(not have("dpkg-deb", "tar"), reason="needs dpkg-deb")
def test_a_file_comes_out_of_a_real_deb(tmp_path):
    deb = build_deb(tmp_path, "keystone", "2:24.0.0-0ubuntu1", {CONF: "[DEFAULT]\ndebug = False\n"})
    assert parse_cached("deb", "keystone", f"{deb}\n")[0].version == "2:24.0.0-0ubuntu1"
    got = _extract("deb", deb, CONF)
    assert (got.returncode, got.stdout) == (0, "[DEFAULT]\ndebug = False\n")
    assert _extract("deb", deb, "/etc/keystone/nope.conf").returncode != 0
