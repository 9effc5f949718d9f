"""The HA lab scenario's pure parts (src/stackstep/lab/openstack/ha.py): the site catalog
the deploy writes beside the inventory, and HAProxy's config (checked by haproxy -c
when it is installed). The deploy itself is tests/lab/test_ha_cloud.py's."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from stackstep.catalog.loader import load_catalog
from stackstep.lab.hosts import HostRunner
from stackstep.lab.lab import parse_hosts
from stackstep.lab.openstack import ha


def _modern(files: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return next(s for s in load_catalog(files).series if s.name == "modern")


def test_the_site_catalog_moves_placement_and_cinder_api_to_their_own_units(tmp_path: Path):
    path = tmp_path / ha.CATALOG
    path.write_text(ha.site_catalog())
    shipped, lab = _modern(), _modern((str(path),))
    api = lab.service("placement").component("api")
    assert (api.httpd, api.units.rpm, api.units.deb) == (
        False,
        ("openstack-placement-api",),
        ("placement-api",),
    )
    assert shipped.service("placement").component("api").units.rpm == ("httpd",)
    assert lab.service("placement").title == "Placement (lab: in its own unit)"
    # Ubuntu serves cinder-api in apache2, the lab in its own unit (keystone is apache2)
    cinder = lab.service("cinder").component("api")
    assert (cinder.units.rpm, cinder.units.deb) == (("openstack-cinder-api",), ("cinder-api",))
    assert shipped.service("cinder").component("api").units.deb == ("apache2",)
    # the rest of placement and cinder (probe, migrations, hooks, rolling) and every
    # other service as shipped, in the same order
    assert [s.name for s in lab.services] == [s.name for s in shipped.services]
    for mine, theirs in zip(lab.services, shipped.services, strict=True):
        same = mine
        if mine.name in ha.OWN_UNITS:
            same = dataclasses.replace(mine, components=theirs.components, title=theirs.title)
            changed = [c.name for c, s in zip(mine.components, theirs.components, strict=True)
                       if c != s]  # fmt: skip
            assert changed == ["api"], mine.name
        assert same == theirs, mine.name


@pytest.mark.parametrize(
    ("spec", "flavour", "expected"),
    [
        (None, None, ha.HA_LAYOUT),
        (None, "deb", ",".join(f"{h}:deb" for h in ha.HA_LAYOUT.split(","))),
        ("lb,db:rpm,controller1", "deb", "lb:deb,db:rpm,controller1:deb"),
    ],
)
def test_the_flavour_applies_to_every_host_naming_none(spec, flavour, expected):
    assert ha.layout(spec, flavour) == expected


def _hosts(tmp_path: Path) -> ha.HaHosts:
    runners = [HostRunner(h, tmp_path / h.name, tmp_path) for h in parse_hosts(ha.HA_LAYOUT)]
    by_name = {r.host.name: r for r in runners}
    return ha.HaHosts(
        lb=by_name["lb"],
        db=by_name["db"],
        controllers=tuple(r for r in runners if "controller" in r.host.roles),
        computes=tuple(r for r in runners if "compute" in r.host.roles),
    )


def test_haproxy_balances_every_api_over_the_controllers_only(tmp_path: Path):
    hosts = _hosts(tmp_path)
    text = ha.haproxy_config(hosts)
    expected = {
        "keystone": (5000, "/healthcheck"),
        "glance": (9292, "/healthcheck"),
        "placement": (8778, "/"),
        "nova": (8774, "/"),
        "neutron": (9696, "/healthcheck"),
        "cinder": (8776, "/healthcheck"),
    }
    for name, (port, path) in expected.items():
        assert f"frontend {name}\n    bind {hosts.vip}:{port}\n    default_backend {name}\n" in text
        backend = text.split(f"\nbackend {name}\n", 1)[1].split("\nfrontend ", 1)[0]
        assert f"    option httpchk GET {path}\n" in backend
        servers = [line.split()[1] for line in backend.splitlines() if "server " in line]
        assert servers == ["controller1", "controller2", "controller3"], name  # no compute
        assert backend.count(f":{port} check inter 2000 rise 2 fall 5\n") == 3
    assert text.count("\nfrontend ") == len(expected)
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed: the syntax check is the lab's")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text.replace("    chroot /var/lib/haproxy\n", ""))
    done = subprocess.run(
        ["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
