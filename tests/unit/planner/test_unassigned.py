"""Hosts that map to no role are left alone (and named), unless --include-unassigned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackstep.model.plan import StepKind
from stackstep.report.plan_text import render_plan
from stackstep_testing import ROOT, plan_from_path

INI = ROOT / "tests" / "data" / "ansible" / "unassigned.ini"
RELEASES = {"from_release": "grizzly", "to_release": "havana"}


def kinds_on(plan, host):
    return {s.kind for s in plan.steps() if s.host == host}


def test_a_host_with_no_role_gets_no_step_and_is_named(catalog):
    plan = plan_from_path(INI, catalog, **RELEASES)
    assert kinds_on(plan, "mon01") == set()
    assert "mon01" not in plan.hosts
    assert plan.left_alone == (("mon01", "no role (groups: monitoring)"),)
    text = render_plan(plan)
    assert "\nhosts left alone (no step; --include-unassigned upgrades their packages):\n" in text
    assert "  - mon01: no role (groups: monitoring)" in text
    body = plan.to_dict()
    assert body["left_alone"] == [{"host": "mon01", "reason": "no role (groups: monitoring)"}]


def test_a_host_in_kolla_nova_compute_gets_nova_computes_full_procedure(catalog):
    plan = plan_from_path(INI, catalog, **RELEASES)
    nova = {s.kind for s in plan.steps() if s.host == "cmp01" and s.service == "nova"}
    assert {
        StepKind.STOP_UNITS,
        StepKind.UPGRADE_PACKAGES,
        StepKind.START_UNITS,
        StepKind.VERIFY,
    } <= nova
    assert plan.step("services/nova/cmp01/stop-units").params.to_json()["units"] == [
        "openstack-nova-compute"
    ]
    assert plan.step("services/nova/cmp01/verify").params.to_json()["units"] == [
        "openstack-nova-compute"
    ]
    # kolla's [nova-compute] is nova-compute only: no neutron agent is invented there
    assert not [s for s in plan.steps() if s.host == "cmp01" and s.service == "neutron"]
    vol = plan.step("services/cinder/vol01/stop-units")
    assert vol is not None and vol.params.to_json()["units"] == ["openstack-cinder-volume"]


def test_include_unassigned_gives_repo_full_upgrade_and_reboot_check(catalog):
    plan = plan_from_path(INI, catalog, include_unassigned=True, **RELEASES)
    assert kinds_on(plan, "mon01") == {
        StepKind.PREFLIGHT,
        StepKind.ENABLE_REPO,
        StepKind.PREFETCH,
        StepKind.FULL_UPGRADE,
        StepKind.REBOOT_CHECK,
    }
    assert "mon01" in plan.hosts and plan.left_alone == ()
    assert plan.options["include_unassigned"] is True
    # the user is told what that means for a service that might be installed there
    assert any("mon01" in w and "--include-unassigned" in w for w in plan.warnings)


@pytest.mark.parametrize("strategy", ["service-by-service", "all-at-once"])
def test_no_service_package_is_upgraded_where_its_steps_are_missing(catalog, strategy):
    """Every host whose packages a step upgrades wholesale has each of its services'
    stop, start and verify steps, or is explicitly included without a role."""
    plan = plan_from_path(INI, catalog, strategy=strategy, **RELEASES)
    full = {s.host for s in plan.steps() if s.kind == StepKind.FULL_UPGRADE}
    assert full == {"ctl01", "cmp01", "vol01"}
    for host in full:
        services = {s.service for s in plan.steps() if s.host == host and s.service}
        for service in services:
            kinds = {s.kind for s in plan.steps() if s.host == host and s.service == service}
            assert {StepKind.START_UNITS, StepKind.VERIFY} <= kinds, (host, service)


def stackstep(*args: str) -> Result:
    from stackstep.cli.commands import register
    from stackstep.cli.main import cli

    register(cli)
    return CliRunner().invoke(cli, list(args))


def test_cli_plan_names_left_alone_hosts_and_takes_the_option(tmp_path: Path):
    args = ("plan", "-i", str(INI), "--from", "grizzly", "--to", "havana")
    text = stackstep(*args)
    assert text.exit_code == 0, text.output
    assert "mon01: no role (groups: monitoring)" in text.stdout
    assert "4 hosts" not in text.stdout and "3 hosts" in text.stdout
    body = json.loads(stackstep(*args, "--json").stdout)
    assert body["left_alone"] == [{"host": "mon01", "reason": "no role (groups: monitoring)"}]
    assert "mon01" not in body["hosts"]
    included = json.loads(stackstep(*args, "--include-unassigned", "--json").stdout)
    assert "mon01" in included["hosts"] and included["left_alone"] == []
    assert "--include-unassigned" in stackstep("plan", "--help").stdout


def test_only_unassigned_hosts_is_a_clear_error(write, catalog):
    path = write("[monitoring]\nmon01\n[logging]\nlog01\n", "hosts.ini")
    proc = stackstep("plan", "-i", str(path), "--from", "grizzly", "--to", "havana")
    assert proc.exit_code == 2, proc.output
    assert "no host has a role" in proc.output
    assert "--include-unassigned" in proc.output


# --- with discovery: what a host really runs decides -------------------------------------

DISCOVERY_INVENTORY = """
release: grizzly
target: havana
hosts:
  ctl: {roles: [controller]}
  cmp: {roles: [compute]}
  bare: {}
  mon: {}
"""


def discovered(name, *units):
    from stackstep.model.facts import Discovered, UnitInfo

    return Discovered(
        name,
        name,
        True,
        family="rpm",
        package_manager="yum",
        init="systemd",
        units=tuple(UnitInfo(u, True, True) for u in units),
    )


def plan_discovered(write, catalog, **options):
    from stackstep.inventory.loader import load_inventory
    from stackstep.planner import PlanOptions, build_plan
    from stackstep.planner.facts import facts_from_discovery
    from stackstep.planner.select import resolve_releases, resolve_series

    inventory = load_inventory(write(DISCOVERY_INVENTORY, "cloud.yaml"))
    opts = PlanOptions(**options)
    series = resolve_series(catalog, *resolve_releases(catalog, inventory, opts))
    found = [
        discovered(
            "ctl",
            "openstack-keystone",
            "openstack-cinder-api",
            "openstack-nova-api",
            "openstack-nova-conductor",
        ),
        discovered("cmp", "openstack-nova-compute", "openstack-cinder-volume"),
        discovered("bare", "openstack-nova-compute"),
        discovered("mon", "sshd"),
    ]
    facts = facts_from_discovery(inventory, catalog, series, found)
    return build_plan(inventory, catalog, facts, opts)


def test_discovery_plans_every_service_found_so_none_is_upgraded_blind(write, catalog):
    plan = plan_discovered(write, catalog)
    # a host with no role running nova-compute: nova compute's whole procedure
    assert plan.step("services/nova/bare/stop-units").params.to_json()["units"] == [
        "openstack-nova-compute"
    ]
    assert plan.step("services/nova/bare/verify") is not None
    # a compute host also running cinder-volume, which its roles do not include: cinder's
    # upgrade there is stopped, started and verified too (the full upgrade would take it)
    assert plan.step("services/cinder/cmp/stop-units").params.to_json()["units"] == [
        "openstack-cinder-volume"
    ]
    assert plan.step("services/cinder/cmp/verify") is not None
    assert any("cmp" in w and "cinder:volume" in w and "no role" in w for w in plan.warnings), (
        plan.warnings
    )
    # a host with no role where nothing OpenStack runs: left alone, and said why
    assert kinds_on(plan, "mon") == set()
    assert plan.left_alone == (("mon", "no role; discovery found no OpenStack service on it"),)


def test_an_ubuntu_keystone_host_in_apache2_gets_no_cinder_api(write, catalog):
    """Ubuntu serves keystone and cinder-api in apache2: a host running apache2 with
    keystone's packages only is not planned a cinder upgrade (and one with cinder's
    packages is)."""
    from stackstep.inventory.loader import load_inventory
    from stackstep.model.facts import Discovered, UnitInfo
    from stackstep.planner.facts import facts_from_discovery
    from stackstep.planner.select import resolve_releases, resolve_series

    inventory = load_inventory(
        write("release: flamingo\ntarget: gazpacho\nhosts:\n  ks: {}\n  vol: {}\n", "c.yaml")
    )
    series = resolve_series(catalog, *resolve_releases(catalog, inventory, _options()))

    def ubuntu(name: str, *packages: str) -> Discovered:
        return Discovered(name, name, True, family="deb", package_manager="apt",
                          init="systemd", units=(UnitInfo("apache2", True, True),),
                          packages=dict.fromkeys(packages, "1"))  # fmt: skip

    found = [ubuntu("ks", "keystone", "apache2"), ubuntu("vol", "cinder-api", "cinder-common")]
    facts = facts_from_discovery(inventory, catalog, series, found)
    ks, vol = facts.host("ks"), facts.host("vol")
    assert ks is not None and vol is not None
    assert [c for c in ks.components if c.startswith("cinder")] == []
    assert "keystone:keystone" in ks.components
    assert "cinder:api" in vol.components


def _options():  # type: ignore[no-untyped-def]
    from stackstep.planner import PlanOptions

    return PlanOptions()
