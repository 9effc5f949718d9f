"""A unit's code can only come from its package's dependency closure (recorded on the
lab's rpm hosts): a changed Python module of another package does not restart it."""

from __future__ import annotations

from pathlib import Path

from stackstep.drivers.requires import closure_command, parse_closures

OUT = Path(__file__).parents[2] / "data" / "outputs" / "requires"


def test_each_units_closure_follows_requires_to_their_providers():
    found = parse_closures((OUT / "rpm-controller.txt").read_text())
    assert set(found) == {
        "openstack-keystone",
        "openstack-cinder-api",
        "openstack-nova-api",
        "httpd",
    }
    # keystone needs nothing of glance's: a glanceclient upgrade cannot be in its code
    assert "python-glanceclient" not in found["openstack-keystone"]
    assert "openstack-lab-common" in found["openstack-keystone"]  # its stand-in code
    # nova-api requires nova-common, which requires the clients (followed recursively)
    assert {"openstack-nova-common", "python-glanceclient", "python-keystoneclient"} <= found[
        "openstack-nova-api"
    ]


def test_a_unit_whose_file_no_package_owns_has_no_closure():
    found = parse_closures((OUT / "rpm-compute1.txt").read_text())
    assert "python-glanceclient" in found["openstack-nova-compute"]
    assert "neutron-openvswitch-agent" not in found  # every module still counts for it


def test_the_units_are_arguments_never_code():
    command = closure_command(["openstack-keystone", "$(touch /tmp/x)"])
    assert command.argv[-2:] == ("openstack-keystone", "$(touch /tmp/x)")
    assert "$(touch" not in command.argv[2]
