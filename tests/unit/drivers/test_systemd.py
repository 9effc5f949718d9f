from pathlib import Path

import pytest

from stackstep.drivers.systemd import (
    list_loaded_command,
    list_units_command,
    openstack_units,
    parse_list_units,
    parse_show,
    parse_unit_files,
    show_units_command,
    units_matching,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "outputs" / "systemctl"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_commands_render_as_an_operator_would_type_them():
    assert list_units_command(["openstack-*", "httpd*"]).render() == (
        "systemctl list-unit-files --type=service --no-legend --no-pager -- 'openstack-*' 'httpd*'"
    )
    assert show_units_command(["httpd.service"]).reveal() == [
        "systemctl",
        "show",
        "--no-pager",
        "-p",
        "Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic",
        "--",
        "httpd.service",
    ]


def test_loaded_units_are_listed_in_one_call_with_their_active_state():
    assert list_loaded_command(["openstack-*"]).render() == (
        "systemctl list-units --all --type=service --no-legend --no-pager --plain -- 'openstack-*'"
    )
    expected = {
        "httpd.service": "active",
        "neutron-openvswitch-agent.service": "inactive",
        "neutron-ovs-cleanup.service": "inactive",
        "neutron-server.service": "active",
        "openstack-glance-api.service": "active",
        "openstack-nova-api.service": "active",
        "openstack-nova-compute.service": "failed",
        "openstack-nova-scheduler.service": "inactive",
    }
    assert parse_list_units(read("list-units-openstack.txt")) == expected
    # the failed unit's bullet (systemd without --plain) is not a unit name
    assert parse_list_units(read("list-units-bullets.txt")) == expected
    assert parse_list_units(read("list-units-none.txt")) == {}


def test_a_masked_or_unloaded_unit_file_is_not_listed_as_loaded():
    files = parse_unit_files(read("list-unit-files-openstack.txt"))
    loaded = parse_list_units(read("list-units-openstack.txt"))
    assert files["openstack-glance-registry.service"] == "masked"
    assert "openstack-glance-registry.service" not in loaded
    assert "openstack-nova-novncproxy.service" in files
    assert "openstack-nova-novncproxy.service" not in loaded


def test_show_without_units_is_refused():
    # systemctl would show the manager's own properties instead
    with pytest.raises(ValueError, match="at least one unit"):
        show_units_command([])


def test_unit_files_of_nova_with_their_states():
    assert parse_unit_files(read("list-unit-files-nova.txt")) == {
        "openstack-nova-api.service": "enabled",
        "openstack-nova-compute.service": "enabled",
        "openstack-nova-novncproxy.service": "static",
        "openstack-nova-scheduler.service": "enabled",
    }


def test_unit_files_mixed_keeps_masked_alias_and_static():
    files = parse_unit_files(read("list-unit-files-mixed.txt"))
    assert len(files) == 80
    assert files["openstack-glance-registry.service"] == "masked"
    assert files["dbus-org.freedesktop.login1.service"] == "alias"
    assert files["openstack-glance-api.service"] == "disabled"


def test_no_match_prints_nothing():
    assert parse_unit_files(read("list-unit-files-none.txt")) == {}


def test_two_column_output_of_old_systemd():
    # RHEL 7's systemd 219 has no VENDOR PRESET column (hand-written line)
    text = "openstack-nova-api.service                  enabled \n"
    assert parse_unit_files(text) == {"openstack-nova-api.service": "enabled"}


def test_openstack_units_follow_openstack_service():
    units = openstack_units(parse_unit_files(read("list-unit-files-openstack.txt")))
    # disabled glance-api, masked glance-registry, static novncproxy and the boot-time
    # neutron-ovs-cleanup are left out; enabled httpd (WSGI APIs) is in
    assert units == [
        "httpd.service",
        "neutron-openvswitch-agent.service",
        "neutron-server.service",
        "openstack-nova-api.service",
        "openstack-nova-compute.service",
        "openstack-nova-scheduler.service",
    ]


def test_openstack_units_ignore_other_enabled_units():
    units = openstack_units(parse_unit_files(read("list-unit-files-mixed.txt")))
    assert "getty@.service" not in units and "httpd.service" in units
    mixed = {"apache2.service": "enabled", "quantum-l3-cleanup.service": "enabled"}
    assert openstack_units(mixed) == ["apache2.service"]
    assert openstack_units({"quantum-l3-cleanup.service": "enabled"}) == []
    assert openstack_units({"httpd.service": "enabled"}, extra_hosted=()) == []


def test_units_matching_a_service_prefix():
    files = parse_unit_files(read("list-unit-files-openstack.txt"))
    assert units_matching(files, "nova") == [
        "openstack-nova-api.service",
        "openstack-nova-compute.service",
        "openstack-nova-novncproxy.service",
        "openstack-nova-scheduler.service",
    ]
    assert units_matching(openstack_units(files), "neutron") == [
        "neutron-openvswitch-agent.service",
        "neutron-server.service",
    ]
    assert units_matching(files, "nova-api") == ["openstack-nova-api.service"]
    assert units_matching(files, "cinder") == []


def test_show_active_unit():
    state = parse_show(read("show-active.txt"))["openstack-nova-api.service"]
    assert state.running and state.exists and state.enabled is True
    assert (state.load_state, state.active_state, state.sub_state) == (
        "loaded",
        "active",
        "running",
    )
    assert state.main_pid > 0 and state.started_monotonic_us > 0


def test_show_inactive_units_never_started_and_stopped():
    states = parse_show(read("show-inactive.txt"))
    never = states["openstack-nova-scheduler.service"]
    stopped = states["neutron-openvswitch-agent.service"]
    assert not never.running and never.sub_state == "dead" and never.started_monotonic_us == 0
    # a stopped unit has no main process but remembers when it last started
    assert stopped.main_pid == 0 and stopped.started_monotonic_us > 0


def test_show_failed_unit():
    state = parse_show(read("show-failed.txt"))["openstack-nova-compute.service"]
    assert (state.active_state, state.sub_state, state.main_pid) == ("failed", "failed", 0)
    assert not state.running and state.enabled is True


def test_show_missing_unit_is_not_found():
    state = parse_show(read("show-not-found.txt"))["openstack-no-such.service"]
    assert not state.exists and state.load_state == "not-found"
    assert state.enabled is None and state.active_state == "inactive"


def test_show_alias_is_keyed_by_its_canonical_name():
    assert list(parse_show(read("show-alias.txt"))) == ["systemd-logind.service"]


def test_show_mixed_records():
    states = parse_show(read("show-mixed.txt"))
    assert len(states) == 11
    running = sorted(name for name, s in states.items() if s.running)
    assert running == [
        "httpd.service",
        "neutron-server.service",
        "openstack-glance-api.service",
        "openstack-nova-api.service",
    ]
    assert states["openstack-glance-api.service"].enabled is False  # running, not enabled
    assert states["openstack-glance-registry.service"].load_state == "masked"
    assert states["openstack-glance-registry.service"].enabled is False
    assert states["openstack-nova-novncproxy.service"].enabled is None  # static
    assert states["neutron-ovs-cleanup.service"].sub_state == "dead"  # oneshot, ran at boot


def test_show_tolerates_extra_blank_lines_and_values_with_equals():
    text = "\n\nId=a.service\nLoadState=loaded\nActiveState=active\nX=a=b\n\n\n"
    state = parse_show(text)["a.service"]
    assert state.running and state.main_pid == 0
