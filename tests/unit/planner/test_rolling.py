"""``--strategy rolling``: node by node behind the load balancer (docs/rolling.md)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stackstep.cli.commands import register
from stackstep.cli.main import cli
from stackstep.errors import PlanError
from stackstep.model.params import DrainParams, LbWaitParams
from stackstep.model.plan import Group, StepKind
from stackstep.planner.rolling import batch_size
from stackstep_testing import EXAMPLES, plan_from_path

register(cli)
HA = EXAMPLES / "ha-3-controllers-20-computes.yaml"

HA_LAB = """cloud: ha
release: flamingo
target: gazpacho
hosts:
  lb:
    address: 192.0.2.5
  controller[1:3]:
    address: 192.0.2.[11:13]
    roles: [controller]
  compute[1:4]:
    address: 192.0.2.[21:24]
    roles: [compute]
vip: 192.0.2.5
load_balancer:
  hosts: [lb]
"""


def _ids(plan):
    return [s.id for s in plan.steps()]


def _group(node, gid):
    if isinstance(node, Group):
        if node.id == gid:
            return node
        for child in node.children:
            found = _group(child, gid)
            if found is not None:
                return found
    return None


def test_a_load_balanced_cloud_rolls_by_default_and_can_still_go_service_by_service(catalog):
    assert plan_from_path(HA, catalog).strategy == "rolling"
    plan = plan_from_path(HA, catalog, strategy="service-by-service")
    assert plan.strategy == "service-by-service"
    # without a load balancer in the inventory, the default stays one service at a time
    assert plan_from_path(EXAMPLES / "all-in-one.yaml", catalog).strategy == "service-by-service"


def test_one_controller_at_a_time_out_of_rotation_upgraded_and_back(catalog):
    plan = plan_from_path(HA, catalog)
    roll = _group(plan.root, "roll")
    assert roll is not None and roll.mode == "sequential"
    assert [c.id for c in roll.children] == ["roll/ctl1", "roll/ctl2", "roll/ctl3"]
    ids = _ids(plan)
    order = [
        "roll/ctl2/drain/ctl2/files",  # keystone's /healthcheck disable file
        "roll/ctl2/drain/lb1/socket",  # the others through HAProxy's socket
        "roll/ctl2/drain/lb1/wait",
        "roll/ctl2/drain/lb2/wait",
        "roll/ctl2/stop-units",
        "roll/ctl2/upgrade",
        "services/keystone/ctl2/start-units",
        "services/keystone/ctl2/verify",
        "roll/ctl2/undrain/ctl2/files",
        "roll/ctl2/undrain/lb1/wait",
    ]
    positions = [ids.index(i) for i in order]
    assert positions == sorted(positions)
    steps = {s.id: s for s in plan.steps()}
    drain = steps["roll/ctl2/drain/ctl2/files"]
    assert drain.host == "ctl2" and drain.kind == StepKind.DRAIN
    assert [c.render() for c in drain.commands] == [
        "touch -- /etc/keystone/healthcheck_disable /etc/glance/healthcheck_disable "
        "/etc/cinder/healthcheck_disable /var/lib/neutron/healthcheck_disable"
    ]
    wait = steps["roll/ctl2/drain/lb2/wait"]
    assert wait.host == "lb2" and isinstance(wait.params, LbWaitParams)
    assert wait.params.direction == "out" and wait.params.timeout == 120
    assert ("keystone", "ctl2") in wait.params.pairs and ("nova", "ctl2") in wait.params.pairs
    socket = steps["roll/ctl2/drain/lb1/socket"]
    assert (
        isinstance(socket.params, DrainParams) and ("keystone", "ctl2") not in socket.params.pairs
    )
    assert any("set server nova/ctl2 state drain" in c.render() for c in socket.commands)
    back = steps["roll/ctl2/undrain/lb1/socket"]
    assert any("set server nova/ctl2 state ready" in c.render() for c in back.commands)


def test_the_database_is_expanded_on_the_first_node_and_contracted_after_the_last(catalog):
    plan = plan_from_path(HA, catalog)
    ids = _ids(plan)
    expand = "services/keystone/ctl1/expand-db"
    steps = {s.id: s for s in plan.steps()}
    assert [c.render() for c in steps[expand].commands] == [
        "runuser -u keystone -- keystone-manage db_sync --expand"
    ]
    # after ctl1's upgrade, before its keystone starts; never on ctl2/ctl3
    start = "services/keystone/ctl1/start-units"
    assert ids.index("roll/ctl1/upgrade") < ids.index(expand) < ids.index(start)
    assert not [i for i in ids if "expand" in i and "/ctl1/" not in i]
    contract = "services/keystone/ctl1/db-contract"
    assert ids.index("roll/ctl3/undrain/lb2/wait") < ids.index(contract)
    assert ids.index(contract) < ids.index("services/keystone/ctl1/db-check")
    # online data migrations once every compute runs the new code
    last_compute = max(i for i, s in enumerate(ids) if s.startswith("roll/compute"))
    assert last_compute < ids.index("services/nova/ctl1/online-data-migrations")


def test_computes_go_one_canary_first_then_in_batches(catalog):
    plan = plan_from_path(HA, catalog, batch="25%")
    canary = _group(plan.root, "hosts/canary")
    rest = _group(plan.root, "hosts/batches")
    assert canary is not None and [c.id for c in canary.children] == ["hosts/compute01"]
    assert rest is not None and rest.mode == "parallel" and rest.limit == 4  # 25% of 19
    assert len(rest.children) == 19
    group = _group(plan.root, "hosts/compute05")
    body = [s.id for s in group.walk() if not isinstance(s, Group)]
    assert body == [
        "roll/compute05/stop-units",
        "roll/compute05/upgrade",
        "services/nova/compute05/upgrade-levels",  # [upgrade_levels] compute = auto
        "services/neutron/compute05/start-units",
        "services/nova/compute05/start-units",
        "services/neutron/compute05/verify",
        "services/nova/compute05/verify",
    ]


def test_every_backend_is_checked_up_before_anything_changes(catalog):
    plan = plan_from_path(HA, catalog)
    first = plan.root.children[0]
    checks = [s for s in first.children if s.kind == StepKind.LB_WAIT]
    assert [s.host for s in checks] == ["lb1", "lb2"]
    assert checks[0].params.direction == "in"
    assert len(checks[0].params.pairs) == 3 * 9  # 3 controllers, 9 services behind HAProxy


@pytest.mark.parametrize(
    ("spec", "hosts", "size"),
    [(None, 19, 19), ("5", 19, 5), ("25%", 19, 4), ("1%", 19, 1), ("100%", 3, 3)],
)
def test_batch_sizes(spec, hosts, size):
    assert batch_size(spec, hosts, 20) == size


@pytest.mark.parametrize("spec", ["0", "-3", "abc", "0%", "150%"])
def test_a_bad_batch_is_refused(spec):
    with pytest.raises(PlanError, match="--batch"):
        batch_size(spec, 10, 20)


def test_rolling_needs_a_load_balancer_and_mixed_version_releases(tmp_path, catalog):
    path = tmp_path / "cloud.yaml"
    path.write_text(HA_LAB.split("vip:", maxsplit=1)[0])
    result = CliRunner().invoke(cli, ["plan", "-i", str(path), "--strategy", "rolling"])
    assert result.exit_code == 2, result.output
    assert "declares no load_balancer" in result.output
    grizzly = HA_LAB.replace("flamingo", "grizzly").replace("gazpacho", "havana")
    path.write_text(grizzly)
    result = CliRunner().invoke(cli, ["plan", "-i", str(path), "--strategy", "rolling"])
    assert result.exit_code == 2, result.output
    assert "cannot run two releases side by side" in result.output
    # and auto falls back to one service at a time there
    result = CliRunner().invoke(cli, ["plan", "-i", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"strategy": "service-by-service"' in result.output


LB_MISTAKES = {
    "unknown-lb-host": (
        "load_balancer:\n  hosts: [lb9]\n",
        ":15:",
        "load_balancer.hosts[0]: unknown host 'lb9'",
    ),
    "backend-with-space": (
        "load_balancer:\n  hosts: [lb]\n  backends:\n    keystone: 'ks api'\n",
        ":17:",
        "load_balancer.backends.keystone: 'ks api' is not an HAProxy backend",
    ),
    "backend-unknown-service": (
        "load_balancer:\n  hosts: [lb]\n  backends:\n    keystne: ks\n",
        ":17:",
        "unknown service 'keystne'",
    ),
    "server-option-like": (
        "load_balancer:\n  hosts: [lb]\n  server: '-x{host}'\n",
        ":16:",
        "load_balancer.server: '-x{host}' starts with '-'",
    ),
    "socket-relative": (
        "load_balancer:\n  hosts: [lb]\n  socket: run/admin.sock\n",
        ":16:",
        "load_balancer.socket: 'run/admin.sock' is not an absolute path",
    ),
    "unknown-key": (
        "load_balancer:\n  hosts: [lb]\n  drian_timeout: 5\n",
        ":16:",
        "unknown load_balancer key 'drian_timeout'",
    ),
    "timeout-range": (
        "load_balancer:\n  hosts: [lb]\n  drain_timeout: 0\n",
        ":16:",
        "load_balancer.drain_timeout: 0 is out of range",
    ),
}


@pytest.mark.parametrize("name", sorted(LB_MISTAKES))
def test_a_bad_load_balancer_names_file_line_and_key(name, tmp_path):
    text, line, fragment = LB_MISTAKES[name]
    path = tmp_path / "cloud.yaml"
    path.write_text(HA_LAB.split("load_balancer:", maxsplit=1)[0] + text)
    result = CliRunner().invoke(cli, ["plan", "-i", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}{line}" in result.output, result.output
    assert fragment in result.output, result.output


def test_the_lab_layout_rolls_keystone_with_its_disable_file(tmp_path, catalog):
    path = tmp_path / "cloud.yaml"
    path.write_text(HA_LAB)
    plan = plan_from_path(path, catalog)
    assert plan.strategy == "rolling"
    assert "lb" in dict(plan.left_alone)  # HAProxy's host is drained through, not upgraded


def test_pins_are_dropped_once_every_host_runs_the_new_code(catalog):
    plan = plan_from_path(HA, catalog)
    ids = _ids(plan)
    steps = {s.id: s for s in plan.steps()}
    hup = steps["unpin/compute07/hup"]
    assert [c.render() for c in hup.commands] == [
        "systemctl kill --kill-whom=main --signal=HUP -- openstack-nova-compute"
    ]
    last_compute = max(i for i, s in enumerate(ids) if s.startswith("roll/compute"))
    assert last_compute < ids.index("unpin/compute07/hup")
    # the APIs have no HUP reset: restarted one controller at a time, out of rotation
    restart = steps["unpin/ctl2/restart"]
    assert "systemctl restart -- openstack-cinder-api openstack-nova-api" in [
        c.render() for c in restart.commands
    ]
    # only what is restarted goes out: cinder by its disable file, nova by the socket
    files = steps["unpin/ctl2/drain/ctl2/files"]
    assert files.params.files == ("/etc/cinder/healthcheck_disable",)
    assert steps["unpin/ctl2/drain/lb1/socket"].params.pairs == (("nova", "ctl2"),)
    wait = steps["unpin/ctl2/drain/lb2/wait"]
    assert wait.params.pairs == (("cinder", "ctl2"), ("nova", "ctl2"))
    assert ids.index("unpin/ctl2/drain/lb1/wait") < ids.index("unpin/ctl2/restart")
    assert ids.index("unpin/ctl2/restart") < ids.index("unpin/ctl2/undrain/lb1/wait")
    assert ids.index("unpin/ctl3/undrain/lb2/wait") < ids.index(
        "services/nova/ctl1/online-data-migrations"
    )
    migrations = steps["services/nova/ctl1/online-data-migrations"]
    assert migrations.params.again_exit == 1
    assert "--max-count" in migrations.commands[0].render()


def test_neutron_contracts_only_when_a_contract_is_pending(catalog):
    steps = {s.id: s for s in plan_from_path(HA, catalog).steps()}
    contract = steps["services/neutron/ctl1/db-contract"]
    assert contract.params.when.exit_codes == (1,)
    assert contract.params.when.argv[-1] == "has_offline_migrations"
    expand = steps["services/neutron/ctl1/expand-db"]
    assert expand.commands[0].render().endswith("upgrade --expand")


def test_only_upgrades_the_chosen_services_packages_on_each_node(catalog):
    steps = {s.id: s for s in plan_from_path(HA, catalog, only=("keystone",)).steps()}
    upgrade = steps["roll/ctl2/upgrade"]
    assert upgrade.kind == StepKind.UPGRADE_PACKAGES
    assert [c.render() for c in upgrade.commands] == [
        "dnf -y -C upgrade -- 'openstack-keystone*' 'python3-keystone*'"
    ]
    assert steps["roll/ctl2/stop-units"].commands[0].render() == "systemctl stop -- httpd"
