"""The key-level merge of config files: INI (three-way, two-way) and Python settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stackstep.configs.ini import parse_ini
from stackstep.configs.merge import (
    MergeOptions,
    file_kind,
    mask_line,
    merge_config,
    merge_ini,
    merge_settings,
    parse_key,
    unified_diff,
)
from stackstep.errors import InputError
from stackstep_testing import ROOT

CONFIGS = ROOT / "tests" / "data" / "configs"  # README.md there says what each file is


def text(name: str) -> str:
    return (CONFIGS / name).read_text()


KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW = (
    text(f"keystone.conf.{v}") for v in ("grizzly", "site", "havana")
)
NOVA_OLD, NOVA_LIVE, NOVA_NEW = (text(f"nova.conf.{v}") for v in ("grizzly", "site", "havana"))
SETTINGS_OLD, SETTINGS_LIVE, SETTINGS_NEW = (
    text(f"local_settings.{v}") for v in ("grizzly", "site", "havana")
)


def test_keystone_three_way_puts_local_values_into_the_new_layout():
    result = merge_ini(KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW)
    assert result.mode == "three-way"
    assert result.conflicts == ()
    text = result.text
    # the new default's layout and every one of its comments
    for line in KEYSTONE_NEW.splitlines():
        if line.startswith("#") or line.startswith("["):
            assert line in text.splitlines(), line
    # local values, each after its commented-out default
    assert "# admin_token = ADMIN\nadmin_token = 7a1e0f2c\n" in text
    assert "# debug = False\ndebug = True\n" in text
    assert "connection = mysql://keystone:Kp4ss@10.0.0.10/keystone" in text
    assert (
        "# expiration = 86400\n# site: tokens live 8 hours (security review 2013-09)\n"
        "expiration = 28800\n"
    ) in text
    # new in the new default
    assert "provider = keystone.token.providers.pki.Provider" in text
    assert "[assignment]" in text
    # a site-only section at the end, with the site's comment
    assert text.endswith(
        "\n# site: our directory\n[ldap]\nurl = ldap://ldap.example.com\n"
        "suffix = dc=example,dc=com\n"
    )
    # nothing twice
    assert text.count("[token]") == 1
    assert text.count("expiration = 28800") == 1


def test_three_way_notes_say_what_was_kept_and_taken():
    result = merge_ini(KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW)
    notes = {(n.section, n.key): n.what for n in result.notes}
    assert notes[("DEFAULT", "admin_token")] == "kept local addition"
    assert notes[("sql", "connection")] == "kept local value"
    assert notes[("token", "provider")] == "added from the new default"
    assert ("catalog", "driver") not in notes  # the same everywhere: nothing to say


def test_keystone_merge_is_idempotent():
    first = merge_ini(KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW)
    again = merge_ini(KEYSTONE_OLD, first.text, KEYSTONE_NEW)
    assert again.text == first.text
    assert again.conflicts == ()
    two = merge_ini(None, first.text, KEYSTONE_NEW)
    assert merge_ini(None, two.text, KEYSTONE_NEW).text == two.text


def test_merging_an_unedited_file_gives_the_new_default():
    assert merge_ini(KEYSTONE_OLD, KEYSTONE_OLD, KEYSTONE_NEW).text == KEYSTONE_NEW


def test_two_way_keeps_every_local_value_and_reports_each_difference():
    result = merge_ini(None, KEYSTONE_LIVE, KEYSTONE_NEW)
    assert result.mode == "two-way"
    assert result.conflicts == ()
    assert "admin_token = 7a1e0f2c" in result.text
    assert "expiration = 28800" in result.text
    assert "provider = keystone.token.providers.pki.Provider" in result.text
    notes = {(n.section, n.key): n.what for n in result.notes}
    assert notes[("sql", "connection")] == "kept local value (the new default differs)"
    assert notes[("token", "expiration")] == "kept local value (not in the new default)"
    assert notes[("token", "provider")] == "added from the new default"
    assert notes[("ldap", "url")] == "kept local value (not in the new default)"


def test_nova_conflicts_are_listed_and_the_text_keeps_the_live_values():
    result = merge_ini(NOVA_OLD, NOVA_LIVE, NOVA_NEW)
    found = {c.key: c for c in result.conflicts}
    assert set(found) == {"rpc_backend", "quantum_url"}
    assert found["rpc_backend"].base == ("nova.openstack.common.rpc.impl_qpid",)
    assert found["rpc_backend"].ours == ("nova.rpc.impl_kombu",)
    assert found["rpc_backend"].theirs == ("nova.openstack.common.rpc.impl_kombu",)
    assert found["quantum_url"].theirs == ()  # the new default dropped it
    assert result.unresolved == result.conflicts
    assert "rpc_backend = nova.rpc.impl_kombu" in result.text
    # the rest merges cleanly
    assert "network_api_class = nova.network.neutronv2.api.API" in result.text
    assert "neutron_url = http://127.0.0.1:9696" in result.text
    assert "dhcpbridge_flagfile" not in result.text  # the site removed it
    assert (
        "osapi_compute_extension = nova.api.openstack.compute.contrib.standard_extensions\n"
        "osapi_compute_extension = site.nova.extensions.Quota\n"
    ) in result.text


def test_conflicts_resolved_for_all_or_per_key():
    theirs = merge_ini(NOVA_OLD, NOVA_LIVE, NOVA_NEW, MergeOptions(resolve="theirs"))
    assert theirs.unresolved == ()
    assert "rpc_backend = nova.openstack.common.rpc.impl_kombu" in theirs.text
    assert "quantum_url" not in theirs.text
    picked = merge_ini(
        NOVA_OLD, NOVA_LIVE, NOVA_NEW, MergeOptions({("DEFAULT", "rpc_backend"): "theirs"})
    )
    assert [c.key for c in picked.unresolved] == ["quantum_url"]
    assert "rpc_backend = nova.openstack.common.rpc.impl_kombu" in picked.text
    mixed = merge_ini(
        NOVA_OLD, NOVA_LIVE, NOVA_NEW, MergeOptions({("DEFAULT", "quantum_url"): "theirs"}, "ours")
    )
    assert mixed.unresolved == ()
    assert "rpc_backend = nova.rpc.impl_kombu" in mixed.text
    assert "quantum_url" not in mixed.text


def test_a_pick_overrides_a_two_way_decision():
    pick = MergeOptions({("DEFAULT", "network_api_class"): "theirs"})
    result = merge_ini(None, NOVA_LIVE, NOVA_NEW, pick)
    assert "network_api_class = nova.network.neutronv2.api.API" in result.text
    notes = {n.key: n.what for n in result.notes}
    assert notes["network_api_class"] == "picked: new default"
    with pytest.raises(InputError, match=r"no key DEFAULT\.nosuch"):
        merge_ini(None, NOVA_LIVE, NOVA_NEW, MergeOptions({("DEFAULT", "nosuch"): "ours"}))


PASTE_LIVE = """\
[pipeline:public_api]
pipeline = sizelimit url_normalize token_auth admin_token_auth
    xml_body json_body ec2_extension user_crud_extension site_audit public_service

[filter:site_audit]
paste.filter_factory = site.audit:filter_factory
"""
PASTE_OLD = """\
[pipeline:public_api]
pipeline = sizelimit url_normalize token_auth admin_token_auth
    xml_body json_body ec2_extension user_crud_extension public_service
"""
PASTE_NEW = """\
[filter:debug]
paste.filter_factory = keystone.common.wsgi:Debug.factory

[pipeline:public_api]
pipeline = access_log sizelimit url_normalize token_auth admin_token_auth
    xml_body json_body ec2_extension user_crud_extension public_service
"""


def test_continuation_lines_are_one_value_and_a_changed_pipeline_conflicts():
    blocks = [b for b in parse_ini(PASTE_LIVE) if b.kind == "entry"]
    assert blocks[0].key == "pipeline" and blocks[0].value.endswith("public_service")
    assert "\n" in blocks[0].value
    result = merge_ini(PASTE_OLD, PASTE_LIVE, PASTE_NEW)
    assert [c.key for c in result.conflicts] == ["pipeline"]
    assert "paste.filter_factory = site.audit:filter_factory" in result.text
    assert "paste.filter_factory = keystone.common.wsgi:Debug.factory" in result.text


def test_whitespace_around_the_equals_sign_is_not_a_change():
    result = merge_ini("[a]\nx = 1\n", "[a]\nx=1\n", "[a]\nx = 1\ny = 2\n")
    assert result.notes[0].key == "y"
    assert result.text == "[a]\nx = 1\ny = 2\n"


def test_keys_before_any_section_and_a_file_without_sections():
    result = merge_ini(None, "catalog.r1.url = http://a\nsite = 1\n", "catalog.r1.url = http://b\n")
    assert result.text == "catalog.r1.url = http://a\nsite = 1\n"


def test_a_line_that_is_not_ini_is_refused_with_its_line_number():
    with pytest.raises(InputError, match=r"policy.json:1: not a line of an INI file"):
        merge_ini(None, '{\n  "admin": "role:admin"\n}\n', "{}\n", name="policy.json")
    with pytest.raises(InputError, match="cannot merge this kind of file"):
        merge_config("/etc/nova/policy.json", None, "{}", "{}")


HORIZON = MergeOptions(carry=("SECRET_KEY", "OPENSTACK_HOST"), add=("ALLOWED_HOSTS = ['*']",))


@pytest.mark.parametrize("base", [SETTINGS_OLD, None], ids=["three-way", "two-way"])
def test_horizon_local_settings_carry_the_site_and_get_allowed_hosts(base):
    result = merge_settings(base, SETTINGS_LIVE, SETTINGS_NEW, HORIZON)
    text = result.text
    assert "SECRET_KEY = 'f3a1-site-secret'" in text
    assert "SECRET_KEY = None" not in text and "packaged-default-key" not in text
    assert 'OPENSTACK_HOST = "controller.example.com"' in text
    assert "ALLOWED_HOSTS = ['horizon.example.com', 'localhost']" in text
    assert 'OPENSTACK_KEYSTONE_DEFAULT_ROLE = "_member_"' in text
    assert "'LOCATION': '127.0.0.1:11211'}," in text  # a statement over several lines
    assert "# Django >= 1.5: the host names this dashboard answers to." in text
    assert result.conflicts == ()
    again = merge_settings(base, text, SETTINGS_NEW, HORIZON)
    assert again.text == text


def test_settings_without_allowed_hosts_get_the_catalogs_statement():
    new = SETTINGS_NEW.replace("ALLOWED_HOSTS = ['horizon.example.com', 'localhost']", "")
    result = merge_settings(SETTINGS_OLD, SETTINGS_LIVE, new, HORIZON)
    assert result.text.rstrip().endswith("ALLOWED_HOSTS = ['*']")
    assert any(n.key == "ALLOWED_HOSTS" and n.what == "added (catalog)" for n in result.notes)


def test_settings_conflict_outside_the_catalogs_carry_list():
    new = SETTINGS_NEW.replace('"Member"', '"member"')
    result = merge_settings(SETTINGS_OLD, SETTINGS_LIVE, new, HORIZON)
    assert [c.key for c in result.conflicts] == ["OPENSTACK_KEYSTONE_DEFAULT_ROLE"]
    assert 'OPENSTACK_KEYSTONE_DEFAULT_ROLE = "_member_"' in result.text
    theirs = merge_settings(SETTINGS_OLD, SETTINGS_LIVE, new, replace(HORIZON, resolve="theirs"))
    assert 'OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"' in theirs.text


def test_site_lines_that_are_not_assignments_are_reported_not_dropped_silently():
    live = SETTINGS_LIVE + "LOGGING['loggers']['horizon'] = {'level': 'DEBUG'}\n"
    result = merge_settings(None, live, SETTINGS_NEW)
    assert any(
        n.what.startswith("not carried") and "LOGGING['loggers']" in n.ours[0] for n in result.notes
    )


def test_the_seeds_case_through_merge_config_by_file_name():
    result = merge_config(
        "/etc/openstack-dashboard/local_settings",
        None,
        SETTINGS_LIVE,
        SETTINGS_NEW,
        HORIZON,
    )
    assert "SECRET_KEY = 'f3a1-site-secret'" in result.text
    assert "ALLOWED_HOSTS" in result.text


def test_file_kinds_and_keys():
    assert file_kind("/etc/openstack-dashboard/local_settings") == "python"
    assert file_kind("/etc/nova/nova.conf") == "ini"
    assert file_kind("/etc/keystone/policy.json") is None
    assert parse_key("filter:authtoken.paste.filter_factory", "ini") == (
        "filter:authtoken",
        "paste.filter_factory",
    )
    assert parse_key("SECRET_KEY", "python") == ("", "SECRET_KEY")
    with pytest.raises(InputError, match=r"SECTION\.KEY"):
        parse_key("debug", "ini")


def test_secrets_are_masked_in_what_is_shown():
    assert mask_line("admin_password = s3cret\n") == "admin_password = ******\n"
    assert mask_line("+admin_token = 7a1e0f2c") == "+admin_token = ******"
    assert mask_line("-SECRET_KEY = 'f3a1'") == "-SECRET_KEY = ******"
    assert (
        mask_line(" connection = mysql://keystone:Kp4ss@10.0.0.10/keystone")
        == " connection = mysql://keystone:******@10.0.0.10/keystone"
    )
    assert mask_line("# expiration = 86400") == "# expiration = 86400"
    diff = unified_diff("a = 1\n", "a = 2\n", "yours", "new")
    assert diff.splitlines()[:2] == ["--- yours", "+++ new"]
