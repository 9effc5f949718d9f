"""nova-compute off and on (drivers/nova.py): the client by era, credentials sourced
first (run for real by sh), and the service list parsed from the clients' tables.

The tables are handwritten (no OpenStack API here): tests/data/outputs/nova/ and
openstack/ copy the prettytable layout the nova and openstack clients print."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stackstep.drivers.nova import (
    client_for,
    compute_hosts,
    list_argv,
    parse_table,
    service_argv,
    with_credentials,
)

OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"


def read(tool: str, name: str) -> str:
    return (OUTPUTS / tool / name).read_text()


@pytest.mark.parametrize(
    ("version", "client"),
    [("2013.1", "nova"), ("2013.2", "nova"), ("2015.2", "nova"), ("2016.1", "openstack")],
)
def test_the_client_follows_the_era(version, client):
    assert client_for(version) == client
    assert client_for("2026.1") == "openstack"


def test_commands_of_each_client():
    assert service_argv("nova", "disable", "cmp1") == (
        "nova",
        "service-disable",
        "cmp1",
        "nova-compute",
    )
    assert service_argv("nova", "enable", "cmp1") == (
        "nova",
        "service-enable",
        "cmp1",
        "nova-compute",
    )
    disable = service_argv("openstack", "disable", "cmp1")
    assert disable[:5] == ("openstack", "compute", "service", "set", "--disable")
    assert "--disable-reason" in disable
    assert disable[-2:] == ("cmp1", "nova-compute")
    assert service_argv("openstack", "enable", "cmp1") == (
        "openstack",
        "compute",
        "service",
        "set",
        "--enable",
        "cmp1",
        "nova-compute",
    )
    assert list_argv("nova") == ("nova", "service-list")


def test_credentials_are_sourced_then_the_client_runs_with_its_own_argv(tmp_path):
    rc = tmp_path / "keystonerc admin"  # a space: quoting must hold
    rc.write_text("export OS_AUTH_URL=http://ctl:5000/v2.0\nexport OS_USERNAME=admin\n")
    command = with_credentials(
        ("sh", "-c", 'echo "$OS_USERNAME@$OS_AUTH_URL $1"', "x", "a b"), str(rc)
    )
    out = subprocess.run(command.reveal(), capture_output=True, text=True, check=True)
    assert out.stdout == "admin@http://ctl:5000/v2.0 a b\n"
    assert with_credentials(("nova", "service-list"), None).reveal() == ["nova", "service-list"]


def test_a_missing_credentials_file_fails_and_runs_nothing(tmp_path):
    command = with_credentials(("touch", str(tmp_path / "ran")), str(tmp_path / "none"))
    assert subprocess.run(command.reveal(), capture_output=True, check=False).returncode != 0
    assert not (tmp_path / "ran").exists()


def test_compute_hosts_of_each_client_table():
    assert compute_hosts(read("nova", "service-list-grizzly.handwritten.txt")) == {"compute1"}
    assert compute_hosts(read("nova", "service-list-havana.handwritten.txt")) == {
        "compute-01",
        "compute-02",
    }
    modern = read("openstack", "compute-service-list.handwritten.txt")
    assert compute_hosts(modern) == {"compute-01", "compute-02"}
    rows = parse_table(modern)
    assert rows[0]["Status"] == "enabled"
    assert rows[0]["Updated At"].startswith("2026-03-02")


def test_no_table_tells_nothing():
    assert compute_hosts("") is None
    assert (
        compute_hosts("ERROR (Unauthorized): The request you have made requires authentication.")
        is None
    )
