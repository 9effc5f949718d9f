"""The catalog's file quirks (hooks), as the seed describes them."""

from __future__ import annotations

import asyncio

from stackstep.engine.hooks import carry_settings, file_hook, rename_config_text
from stackstep.model.inventory import Host
from stackstep.model.params import HookParams
from stackstep.model.plan import Step, StepKind
from stackstep.transport.base import TransportOptions
from stackstep.transport.local import LocalTransport

QUANTUM_CONF = """[DEFAULT]
core_plugin = quantum.plugins.openvswitch.ovs_quantum_plugin.OVSQuantumPluginV2
rpc_backend = quantum.openstack.common.rpc.impl_qpid
[keystone_authtoken]
admin_user = quantum
admin_tenant_name = services
[DATABASE]
sql_connection = mysql://quantum:secret@ctl/ovs_quantum
"""


def test_rename_keeps_the_database_and_the_service_user():
    out = rename_config_text(QUANTUM_CONF, "quantum", "neutron", ["sql_connection", "admin_user"])
    assert "neutron.plugins.openvswitch.ovs_neutron_plugin.OVSNeutronPluginV2" in out
    assert "rpc_backend = neutron.openstack.common.rpc.impl_qpid" in out
    assert "admin_user = quantum" in out
    assert "sql_connection = mysql://quantum:secret@ctl/ovs_quantum" in out


OLD_SETTINGS = """import os
DEBUG = False
SECRET_KEY = 'our-long-secret'
OPENSTACK_HOST = "10.0.0.10"
CACHES = {
    'default': {'BACKEND': 'locmem'},
}
"""
NEW_SETTINGS = """import os
DEBUG = False
TEMPLATE_DEBUG = DEBUG
SECRET_KEY = None
OPENSTACK_HOST = "127.0.0.1"
OPENSTACK_KEYSTONE_URL = "http://%s:5000/v2.0" % OPENSTACK_HOST
"""


def test_horizon_local_settings_carry_secret_and_host_and_add_allowed_hosts():
    out = carry_settings(
        OLD_SETTINGS, NEW_SETTINGS, ["SECRET_KEY", "OPENSTACK_HOST"], ["ALLOWED_HOSTS = ['*']"]
    )
    assert "SECRET_KEY = 'our-long-secret'" in out and "SECRET_KEY = None" not in out
    assert 'OPENSTACK_HOST = "10.0.0.10"' in out and "127.0.0.1" not in out
    assert 'OPENSTACK_KEYSTONE_URL = "http://%s:5000/v2.0" % OPENSTACK_HOST' in out
    assert out.rstrip().endswith("ALLOWED_HOSTS = ['*']")
    assert "TEMPLATE_DEBUG = DEBUG" in out


def test_allowed_hosts_is_not_added_twice():
    out = carry_settings(
        "", NEW_SETTINGS + "ALLOWED_HOSTS = ['dash']\n", [], ["ALLOWED_HOSTS = ['*']"]
    )
    assert out.count("ALLOWED_HOSTS") == 1


def _step(kind: str, **data) -> Step:
    return Step(
        "services/neutron/ctl/x",
        StepKind.HOOK,
        "t",
        "ctl",
        "neutron",
        params=HookParams.from_json({"hook_kind": kind, **data}),
    )


def _local() -> LocalTransport:
    return LocalTransport(Host("ctl", "127.0.0.1", transport="local"), TransportOptions())


def test_rename_configs_moves_rpmsave_files_into_the_new_directory(tmp_path):
    quantum, neutron = tmp_path / "quantum", tmp_path / "neutron"
    quantum.mkdir()
    neutron.mkdir()
    (quantum / "quantum.conf.rpmsave").write_text(QUANTUM_CONF)
    (quantum / "quantum.conf.rpmsave").chmod(0o640)
    shipped = neutron / "neutron.conf"  # the new package's default, root:neutron 0640 on RDO
    shipped.write_text("[DEFAULT]\n")
    shipped.chmod(0o604)
    params = {
        "from_dir": str(quantum),
        "to_dir": str(neutron),
        "suffix": ".rpmsave",
        "replace": "quantum",
        "with": "neutron",
        "keep_lines": ["sql_connection"],
    }
    step = _step("rename-configs", params=params)
    message = asyncio.run(file_hook(step, _local(), lambda s, r: None, "RUN1"))
    assert message == f"1 file(s) moved from {quantum} to {neutron}"
    moved = shipped.read_text()
    assert "OVSNeutronPluginV2" in moved and "ovs_quantum" in moved
    # written in place: the shipped file's mode (and owner) stay, no temp file is left
    assert shipped.stat().st_mode & 0o777 == 0o604
    assert sorted(p.name for p in neutron.iterdir()) == ["neutron.conf"]


def test_settings_merge_takes_the_new_default_and_keeps_the_old_file(tmp_path):
    live = tmp_path / "local_settings"
    live.write_text(OLD_SETTINGS)
    live.chmod(0o644)  # horizon's user must read it
    (tmp_path / "local_settings.rpmnew").write_text(NEW_SETTINGS)
    params = {"file": str(live), "carry": ["SECRET_KEY"], "add": ["ALLOWED_HOSTS = ['*']"]}
    asyncio.run(
        file_hook(_step("settings-merge", params=params), _local(), lambda s, r: None, "RUN1")
    )
    merged = live.read_text()
    assert "our-long-secret" in merged and "ALLOWED_HOSTS" in merged
    assert live.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "local_settings.stackstep-RUN1").read_text() == OLD_SETTINGS
    assert (tmp_path / "local_settings.rpmnew").exists()  # listed by the config review
