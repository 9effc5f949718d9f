"""The stackstep inventory format and Ansible import, as an operator writes them."""

from __future__ import annotations

from stackstep.inventory.loader import load_inventory

INVENTORY = """
cloud: lab
release: grizzly
target: havana
defaults:
  user: admin
  port: 2222
  identity_file: ~/.ssh/lab
  become: true
  package_manager: yum
hosts:
  ctl:
    address: 10.1.0.10
    roles: [controller]
    port: 22
    user: root
    become: false
  compute[01:03]:
    address: 10.1.0.[21:23]
    roles: [compute]
    package_manager: dnf
  storage:
    services: ["cinder:volume"]
    jump: admin@bastion:2200
"""


def test_hosts_defaults_and_overrides(write, catalog):
    inv = load_inventory(write(INVENTORY), catalog.ansible_group_map())
    assert inv.name == "lab" and inv.release == "grizzly" and inv.target == "havana"
    assert [h.name for h in inv.hosts] == ["ctl", "compute01", "compute02", "compute03", "storage"]
    ctl, c1, _, c3, storage = inv.hosts
    assert (ctl.port, ctl.user, ctl.become, ctl.identity_file) == (22, "root", False, "~/.ssh/lab")
    assert (c1.address, c3.address) == ("10.1.0.21", "10.1.0.23")
    assert (c1.port, c1.user, c1.become, c1.package_manager) == (2222, "admin", True, "dnf")
    assert storage.address == "storage" and storage.services == ("cinder:volume",)
    assert storage.jump == "admin@bastion:2200" and storage.package_manager == "yum"
    assert c1.line == 18
    assert len(inv.digest) == 64


def test_ansible_ini_is_accepted_as_is(catalog):
    from stackstep_testing import EXAMPLES

    inv = load_inventory(EXAMPLES / "ansible" / "hosts.ini", catalog.ansible_group_map())
    by_name = {h.name: h for h in inv.hosts}
    assert by_name["ctl01"].roles == ("controller",)
    assert by_name["ctl01"].address == "192.0.2.110" and by_name["ctl01"].become is True
    assert by_name["cmp03"].roles == ("compute",) and by_name["cmp03"].address == "cmp03"
    assert by_name["stor01"].port == 2222
    assert by_name["ctl01"].identity_file == "~/.ssh/kolla"
    assert by_name["ctl01"].package_manager == "yum"
    assert any("'monitoring'" in note for note in inv.notes)


def test_ansible_yaml_is_detected(write, catalog):
    text = """
all:
  children:
    controller:
      hosts:
        c1: {ansible_host: 10.0.0.1, ansible_user: stack}
    compute_hosts:
      hosts:
        n[1:2]:
"""
    inv = load_inventory(write(text, "hosts.yml"), catalog.ansible_group_map())
    assert [(h.name, h.roles) for h in inv.hosts] == [
        ("c1", ("controller",)),
        ("n1", ("compute",)),
        ("n2", ("compute",)),
    ]
    assert inv.hosts[0].user == "stack"


def test_stackstep_inventory_can_import_ansible_with_its_own_group_map(write, catalog):
    write("[web]\nw1 ansible_host=10.0.0.5\n[db]\nd1\n", "hosts.ini")
    path = write(
        "release: grizzly\nansible: hosts.ini\ngroup_roles:\n  web: [horizon]\n"
        "defaults: {package_manager: apt}\n",
        "cloud.yaml",
    )
    inv = load_inventory(path, catalog.ansible_group_map())
    w1 = inv.host("w1")
    assert w1 is not None and w1.roles == ("horizon",) and w1.package_manager == "apt"
    assert inv.host("d1").roles == ()
    assert inv.release == "grizzly"


def test_stackstep_roles_variable_adds_roles(write, catalog):
    inv = load_inventory(
        write("[misc]\nbox stackstep_roles=identity,image\n", "h.ini"), catalog.ansible_group_map()
    )
    assert inv.hosts[0].roles == ("identity", "image")
