"""What an operator reads in a plan: the seed's procedure, its quirks, the options."""

from __future__ import annotations

import pytest

from stackstep.drivers import packages
from stackstep.errors import PlanError
from stackstep.model.plan import StepKind

SEED = """
release: grizzly
target: havana
hosts:
  ctl: {address: 192.0.2.10, roles: [controller]}
  net: {address: 192.0.2.20, roles: [network]}
  cmp[1:3]: {address: "192.0.2.[31:33]", roles: [compute]}
  st: {address: 192.0.2.40, roles: [storage]}
"""


def ids(plan):
    return [s.id for s in plan.steps()]


def test_seed_order_and_phases(plan_for):
    plan = plan_for(SEED)
    assert plan.services == ("keystone", "swift", "cinder", "glance", "neutron", "nova", "horizon")
    top = [child.id for child in plan.root.children]
    assert top == ["preflight", "repo", "services", "configs", "final", "restart", "reboot"]
    services = next(c for c in plan.root.children if c.id == "services")
    assert [g.id for g in services.children] == [f"services/{s}" for s in plan.services]


def test_keystone_flushes_tokens_before_db_sync_as_keystone(plan_for):
    plan = plan_for(SEED)
    migrate = plan.step("services/keystone/ctl/migrate-db")
    assert [c.render() for c in migrate.commands] == [
        "runuser -u keystone -- keystone-manage token_flush",
        "runuser -u keystone -- keystone-manage db_sync",
    ]


def test_quantum_becomes_neutron(plan_for):
    plan = plan_for(SEED)
    order = ids(plan)
    stamp = plan.step("services/neutron/ctl/stamp-quantum-db")
    assert stamp.params.to_json()["when"]["output_matches"] == "None"
    assert "stamp grizzly" in stamp.commands[0].render()
    assert plan.step("services/neutron/net/stop-units").params.to_json()["units"] == [
        "quantum-openvswitch-agent",
        "quantum-dhcp-agent",
        "quantum-l3-agent",
        "quantum-metadata-agent",
    ]
    assert (
        "neutron-server"
        in plan.step("services/neutron/ctl/start-units-1").params.to_json()["units"]
    )
    steps = [
        "services/neutron/ctl/stamp-quantum-db",  # safe with quantum running: before the stop
        "services/neutron/ctl/stop-units",
        "services/neutron/ctl/remove-quantum-user",
        "services/neutron/ctl/upgrade-packages",
        "services/neutron/ctl/rename-configs",
        "services/neutron/ctl/plugin-link",
        "services/neutron/ctl/migrate-db",
        "services/neutron/ctl/start-units-1",
    ]
    assert [order.index(s) for s in steps] == sorted(order.index(s) for s in steps)
    rename = plan.step("services/neutron/cmp2/rename-configs")
    assert rename.params.to_json()["params"]["keep_lines"] == ["sql_connection", "admin_user"]
    assert "upgrade head" in plan.step("services/neutron/ctl/migrate-db").commands[0].render()


def test_horizon_local_settings_carry_secret_key_and_add_allowed_hosts(plan_for):
    step = plan_for(SEED).step("services/horizon/ctl/local-settings")
    assert step.params.to_json()["params"]["carry"] == ["SECRET_KEY", "OPENSTACK_HOST"]
    assert any("ALLOWED_HOSTS" in line for line in step.params.to_json()["params"]["add"])


def test_after_the_final_upgrade_every_host_checks_its_units_for_stale_code(plan_for):
    plan = plan_for(SEED)
    restarts = {s.host: s for s in plan.steps() if s.kind == StepKind.RESTART_UNITS}
    assert list(restarts) == ["ctl", "net", "cmp1", "cmp2", "cmp3", "st"]
    cmp1 = restarts["cmp1"]
    assert cmp1.params.to_json()["detect_stale"] is True
    assert "openstack-nova-compute" in cmp1.params.to_json()["units"]
    assert cmp1.params.to_json()["fallback"] == ["openstack-nova-compute"]
    assert "python-*" in cmp1.params.to_json()["library_packages"]
    # it reads unit PIDs and package install times; what to restart is decided then
    rendered = [c.render() for c in cmp1.commands]
    assert rendered[0].startswith("systemctl show")
    assert rendered[1] == "rpm -qa --qf '%{INSTALLTIME} %{NAME}\\n'"
    assert "openstack-keystone" in restarts["ctl"].params.to_json()["units"]


def test_sysv_hosts_restart_the_units_known_to_break(plan_for):
    plan = plan_for(SEED.replace("hosts:", "defaults: {init: sysv}\nhosts:"))
    restarts = {s.host: s for s in plan.steps() if s.kind == StepKind.RESTART_UNITS}
    assert list(restarts) == ["cmp1", "cmp2", "cmp3"]
    assert [c.render() for c in restarts["cmp1"].commands] == [
        "service openstack-nova-compute restart"
    ]


def test_conductor_starts_first_and_api_last(plan_for):
    plan = plan_for(SEED)
    nova = [s for s in plan.steps() if s.kind == StepKind.START_UNITS and s.service == "nova"]
    assert nova[0].params.to_json()["units"] == ["openstack-nova-conductor"]
    assert nova[-1].params.to_json()["units"] == ["openstack-nova-api"]


def test_sysv_hosts_get_one_service_call_per_unit(plan_for):
    plan = plan_for(SEED.replace("hosts:", "defaults: {init: sysv}\nhosts:"))
    stop = plan.step("services/nova/ctl/stop-units")
    assert stop.commands[0].render() == "service openstack-nova-conductor stop"
    assert len(stop.commands) == 6


def test_apt_hosts_keep_local_config_files(plan_for):
    plan = plan_for(SEED.replace("hosts:", "defaults: {package_manager: apt}\nhosts:"))
    upgrade = plan.step("services/nova/cmp1/upgrade-packages").commands[0]
    assert upgrade.render().startswith("DEBIAN_FRONTEND=noninteractive sh -c")
    assert packages.held_argv(upgrade)[:2] == ("apt-get", "-y")  # service starts held
    assert "Dpkg::Options::=--force-confold" in upgrade.render()
    assert "cloud-archive:havana" in plan.step("repo/ctl/enable").commands[0].render()


def test_only_and_skip(plan_for):
    assert plan_for(SEED, only=("nova", "keystone")).services == ("keystone", "nova")
    assert "swift" not in plan_for(SEED, skip=("swift",)).services
    assert plan_for(SEED, only=("quantum",)).services == ("neutron",)


def test_only_a_service_no_host_runs_is_refused(plan_for):
    with pytest.raises(PlanError, match="no host in the inventory runs swift"):
        plan_for(
            SEED.replace("  st: {address: 192.0.2.40, roles: [storage]}\n", "").replace(
                "[controller]", "[identity]"
            ),
            only=("swift",),
        )


def test_migration_host_can_be_designated(plan_for):
    text = SEED.replace(
        "ctl: {address: 192.0.2.10, roles: [controller]}",
        "ctl: {address: 192.0.2.10, roles: [controller]}\n"
        "  ctl2: {address: 192.0.2.11, roles: [controller], migrate: [nova]}",
    )
    plan = plan_for(text)
    assert plan.step("services/nova/ctl2/migrate-db") is not None
    assert plan.step("services/nova/ctl/migrate-db") is None
    assert plan.step("services/keystone/ctl/migrate-db") is not None


def test_migration_designated_twice_is_refused(plan_for):
    text = SEED.replace("roles: [controller]}", "roles: [controller], migrate: [nova]}").replace(
        "net: {address: 192.0.2.20, roles: [network]}",
        "net: {address: 192.0.2.20, roles: [network, controller], migrate: [nova]}",
    )
    with pytest.raises(PlanError, match="assigned to several hosts"):
        plan_for(text)


def test_service_without_its_migration_host_is_refused(plan_for):
    with pytest.raises(PlanError, match="no host runs nova:api"):
        plan_for(
            "release: grizzly\nhosts:\n  cmp: {roles: [compute-nova-network]}\n"
            "  id: {roles: [identity]}\n"
        )


def test_no_quantum_cloud_has_no_network_phase(plan_for):
    plan = plan_for(
        "release: grizzly\nhosts:\n  ctl: {roles: [keystone, glance, 'nova:api']}\n"
        "  cmp: {roles: [compute-nova-network]}\n"
    )
    assert plan.services == ("keystone", "glance", "nova")
    assert not [s for s in plan.steps() if s.service == "neutron"]


def test_no_backup_is_said_loudly(plan_for):
    plan = plan_for(SEED, backup=False)
    assert not [s for s in plan.steps() if s.kind == StepKind.BACKUP_DB]
    assert any("NO database backups" in w for w in plan.warnings)


def test_no_prefetch(plan_for):
    assert not [s for s in plan_for(SEED, prefetch=False).steps() if s.kind == StepKind.PREFETCH]


def test_parallel_limit_applies_to_host_groups(plan_for):
    plan = plan_for(SEED, parallel=2)
    final = next(c for c in plan.root.children if c.id == "final")
    assert final.mode == "parallel" and final.limit == 2


def test_modern_httpd_services_warn_about_shared_units(plan_for):
    plan = plan_for(
        "release: '2025.1'\ntarget: '2025.2'\ndefaults: {package_manager: dnf}\n"
        "hosts:\n  c[1:3]: {roles: [controller]}\n"
    )
    assert (
        "keystone on c[1:3]: stopping httpd also stops placement, horizon (same unit)"
        in plan.warnings
    )
    nova = plan.step("services/nova/c1/migrate-db")
    assert [c.render() for c in nova.commands] == [
        "runuser -u nova -- nova-manage api_db sync",
        "runuser -u nova -- nova-manage db sync",
    ]
    assert plan.step("services/nova/c1/online-data-migrations") is not None


def test_slurp_skip_is_an_upgrade_path(plan_for):
    plan = plan_for(
        "hosts:\n  c: {roles: [controller]}\n", from_release="2024.1", to_release="2025.1"
    )
    assert (plan.from_release, plan.to_release) == ("caracal", "epoxy")


def test_target_defaults_to_next_release(plan_for):
    plan = plan_for("release: '2025.1'\nhosts:\n  c: {roles: [controller]}\n")
    assert (plan.from_release, plan.to_release) == ("epoxy", "flamingo")


def test_plan_json_is_stable_and_hash_changes_with_the_plan(plan_for):
    a, b = plan_for(SEED), plan_for(SEED)
    assert a.to_dict() == b.to_dict() and a.hash == b.hash
    assert plan_for(SEED, parallel=3).hash != a.hash


def test_discovered_units_decide_between_quantum_and_neutron(catalog):
    from stackstep.model.facts import Facts, HostFacts
    from stackstep.model.inventory import Host, Inventory
    from stackstep.planner import PlanOptions, build_plan

    inventory = Inventory(
        "x", "x.yaml", (Host("ctl", "192.0.2.1", roles=("controller",)),), release="grizzly"
    )
    components = ("keystone:keystone", "neutron:server", "nova:api")

    def stop_units(units: tuple[str, ...]) -> list[str]:
        facts = Facts(
            (HostFacts("ctl", "rpm", "yum", "systemd", components, {}, units),), "discovery"
        )
        plan = build_plan(inventory, catalog, facts, PlanOptions())
        return plan.step("services/neutron/ctl/stop-units").params.to_json()["units"]

    assert stop_units(("quantum-server", "openstack-keystone")) == ["quantum-server"]
    assert stop_units(("neutron-server", "openstack-keystone")) == ["neutron-server"]
    assert stop_units(()) == ["quantum-server"]


HA = """
release: grizzly
target: havana
hosts:
  ctl[1:3]: {address: "192.0.2.[11:13]", roles: [controller]}
  cmp[1:4]: {address: "192.0.2.[31:34]", roles: [compute]}
"""


def test_stale_restarts_take_api_hosts_one_at_a_time_waiting_for_their_apis(plan_for):
    plan = plan_for(HA)
    restart = next(c for c in plan.root.children if c.id == "restart")
    assert restart.mode == "sequential"
    api, others = restart.children
    assert api.id == "restart/api" and api.limit == 1
    assert [s.host for s in api.children] == ["ctl1", "ctl2", "ctl3"]
    assert [s.host for s in others.children] == ["cmp1", "cmp2", "cmp3", "cmp4"]
    urls = [p["url"] for p in plan.step("restart/ctl2/restart-units").params.to_json()["probes"]]
    assert "http://192.0.2.12:5000/v3" in urls and "http://192.0.2.12:8774/" in urls
    assert plan.step("restart/cmp1/restart-units").params.to_json()["probes"] == []


def test_an_ipv6_address_is_bracketed_in_the_probe_url(plan_for):
    plan = plan_for(SEED.replace("address: 192.0.2.10", "address: '2001:db8::10'"))
    probe = plan.step("services/keystone/ctl/verify").params.to_json()["probe"]
    assert probe["url"].startswith("http://[2001:db8::10]:5000/"), probe


def _group(node, gid):
    if getattr(node, "id", None) == gid:
        return node
    for child in getattr(node, "children", ()):
        found = _group(child, gid)
        if found is not None:
            return found
    return None


def test_the_backup_runs_beside_the_package_upgrade_and_the_migration_waits(plan_for):
    plan = plan_for(SEED)
    keystone = _group(plan.root, "services/keystone")
    both = keystone.children[1]
    assert both.mode == "parallel"
    inside = [c.id for c in both.children]
    assert inside == ["services/keystone/upgrade", "services/keystone/ctl/backup-db"]
    # the migration is the next child of the service's sequence: it waits for both
    assert keystone.children[2].id == "services/keystone/ctl/migrate-db"
    assert keystone.children[0].id == "services/keystone/stop"


def test_neutron_backs_up_after_the_hooks_that_make_its_config(plan_for):
    # the backup reads /etc/neutron/plugin.ini, a link a post-upgrade hook makes
    order = ids(plan_for(SEED))
    assert (
        order.index("services/neutron/ctl/upgrade-packages")
        < order.index("services/neutron/ctl/plugin-link")
        < order.index("services/neutron/ctl/backup-db")
        < order.index("services/neutron/ctl/migrate-db")
    )
    assert _group(plan_for(SEED).root, "services/neutron/upgrade-and-backup") is None


def test_all_at_once_backs_up_after_the_full_upgrade(plan_for):
    # the full upgrade may restart the database server: no dump runs beside it
    order = ids(plan_for(SEED, strategy="all-at-once"))
    assert order.index("final/ctl/full-upgrade") < order.index("services/nova/ctl/backup-db")
    assert order.index("services/nova/ctl/backup-db") < order.index("services/nova/ctl/migrate-db")


def test_without_backups_the_upgrade_stands_alone(plan_for):
    keystone = _group(plan_for(SEED, backup=False).root, "services/keystone")
    assert keystone.children[1].id == "services/keystone/upgrade"


def test_the_outage_installs_from_the_prefetched_cache(plan_for):
    step = plan_for(SEED).step("services/nova/cmp1/upgrade-packages")
    assert step.commands[0].render() == "yum -y -C upgrade -- '*nova*'"
    assert step.params.to_json()["cached"] is True
    # the full upgrade after the outages refreshes as usual
    assert plan_for(SEED).step("final/cmp1/full-upgrade").commands[0].render() == "yum -y upgrade"
    # all at once, the full upgrade is the outage's transaction: from the cache too
    whole = plan_for(SEED, strategy="all-at-once").step("final/cmp1/full-upgrade")
    assert whole.commands[0].render() == "yum -y -C upgrade"


def test_without_prefetch_nothing_is_cached_so_nothing_runs_from_the_cache(plan_for):
    step = plan_for(SEED, prefetch=False).step("services/nova/cmp1/upgrade-packages")
    assert step.commands[0].render() == "yum -y upgrade -- '*nova*'"
    assert "cached" not in step.params.to_json()
    whole = plan_for(SEED, strategy="all-at-once", prefetch=False).step("final/cmp1/full-upgrade")
    assert whole.commands[0].render() == "yum -y upgrade"


def test_the_quantum_stamp_runs_before_the_stop_and_the_user_removal_after(plan_for):
    neutron = _group(plan_for(SEED).root, "services/neutron")
    first = [c.id for c in neutron.children[:3]]
    assert first == [
        "services/neutron/ctl/stamp-quantum-db",
        "services/neutron/stop",
        "services/neutron/remove-quantum-user",
    ]
    whole = ids(plan_for(SEED, strategy="all-at-once"))
    assert whole.index("services/neutron/ctl/stamp-quantum-db") < whole.index("all/ctl/stop-units")
