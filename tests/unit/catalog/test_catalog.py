"""The shipped catalog: releases, upgrade paths, series, and user overrides."""

from __future__ import annotations

from stackstep.catalog import load_catalog


def test_every_release_from_grizzly_to_2026_1(catalog):
    names = [r.name for r in catalog.releases]
    assert names[0] == "grizzly" and names[-1] == "gazpacho" and len(names) == 27
    versions = [r.version for r in catalog.releases]
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))
    assert [r.version for r in catalog.releases if r.slurp] == [
        "2023.1",
        "2024.1",
        "2025.1",
        "2026.1",
    ]


def test_upgrade_paths(catalog):
    rel = catalog.release
    assert catalog.targets(rel("grizzly")) == (rel("havana"),)
    assert catalog.targets(rel("2023.1")) == (rel("2023.2"), rel("2024.1"))
    assert catalog.targets(rel("2023.2")) == (rel("2024.1"),)
    assert not catalog.is_path(rel("grizzly"), rel("icehouse"))
    assert catalog.targets(rel("2026.1")) == ()
    assert rel("Havana") == rel("2013.2")


def test_seed_series_order_and_quirks(catalog):
    series = catalog.series_for(catalog.release("grizzly"), catalog.release("havana"))
    assert [s.name for s in series.services] == [
        "keystone",
        "swift",
        "cinder",
        "glance",
        "neutron",
        "nova",
        "horizon",
    ]
    keystone = series.service("keystone")
    assert [h.argv for h in keystone.migrate] == [
        ("keystone-manage", "token_flush"),
        ("keystone-manage", "db_sync"),
    ]
    neutron = series.service("quantum")
    assert neutron.name == "neutron"
    assert neutron.component("server").units_to_stop("rpm") == ("quantum-server",)
    assert neutron.pre_upgrade[0].when.output_matches == "None"
    nova = series.service("nova")
    assert nova.component("compute").restart_after_final_upgrade


def test_modern_series_covers_2023_1_to_2026_1(catalog):
    for a, b in [("2023.1", "2023.2"), ("2024.1", "2025.1"), ("2025.2", "2026.1")]:
        series = catalog.series_for(catalog.release(a), catalog.release(b))
        assert series is not None and series.name == "modern"
        assert {"keystone", "placement", "nova", "neutron"} <= {s.name for s in series.services}
        for service in series.services:
            assert service.packages.rpm and service.packages.deb
            assert all(c.units.rpm and c.units.deb for c in service.components)


def test_user_file_overrides_a_service_and_adds_a_release(tmp_path, catalog):
    site = tmp_path / "site.toml"
    site.write_text(
        'series = "rdo-2013"\n\n[[service]]\nname = "glance"\nafter = ["keystone"]\n'
        'packages = { rpm = ["openstack-glance*"], deb = ["glance"] }\n'
        'migrate_on = "api"\n[[service.component]]\nname = "api"\n'
        'units = { rpm = ["openstack-glance-api"], deb = ["glance-api"] }\n'
        '[[service.migrate]]\nname = "db-sync"\nargv = ["glance-manage", "db", "sync"]\n'
    )
    more = tmp_path / "more.toml"
    more.write_text(
        'release = [ { name = "hibiscus", version = "2026.2" } ]\n[roles]\nweb = ["horizon"]\n'
    )
    custom = load_catalog((site, more))
    series = custom.series_for(custom.release("grizzly"), custom.release("havana"))
    glance = series.service("glance")
    assert [c.name for c in glance.components] == ["api"]
    assert glance.migrate[0].argv == ("glance-manage", "db", "sync")
    assert [s.name for s in series.services].index("glance") == 3
    assert custom.targets(custom.release("gazpacho")) == (custom.release("hibiscus"),)
    assert custom.roles["web"] == ("horizon",)
    assert custom.digest != catalog.digest
