"""Tests of the Ansible inventory parsers (INI and YAML)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import yaml
from hypothesis import given
from hypothesis import strategies as st

from stackstep.errors import Problem
from stackstep.inventory.ansible import (
    AnsibleHost,
    AnsibleInventory,
    looks_like_ansible_yaml,
    parse_ansible_ini,
    parse_ansible_yaml,
)

DATA = Path(__file__).parents[2] / "data" / "ansible"


def ini(text: str) -> tuple[AnsibleInventory, list[Problem]]:
    return parse_ansible_ini(dedent(text).lstrip("\n"), "hosts.ini")


def yml(text: str) -> tuple[AnsibleInventory, list[Problem]]:
    return parse_ansible_yaml(dedent(text).lstrip("\n"), "hosts.yml")


def by_name(inventory: AnsibleInventory) -> dict[str, AnsibleHost]:
    return {host.name: host for host in inventory.hosts}


def only_problem(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


def load_sample(name: str) -> AnsibleInventory:
    text = (DATA / name).read_text()
    parse = parse_ansible_yaml if name.endswith(".yml") else parse_ansible_ini
    inventory, problems = parse(text, name)
    assert problems == []
    return inventory


# --- INI ---------------------------------------------------------------------------------


def test_ini_multinode_hosts_groups_and_lines() -> None:
    inventory = load_sample("multinode")
    names = [h.name for h in inventory.hosts]
    assert names == [
        "deploy01",
        *(f"ctl0{i}" for i in range(1, 4)),
        *(f"compute0{i}" for i in range(1, 5)),
        "storagea",
        "storageb",
        "storagec",
        "mon01",
    ]
    assert inventory.groups == (
        "control",
        "network",
        "compute",
        "storage",
        "monitoring",
        "baremetal",
        "nova",
        "nova-api",
    )
    hosts = by_name(inventory)
    assert hosts["deploy01"].groups == ()
    assert hosts["deploy01"].line == 3
    assert hosts["ctl02"].groups == ("baremetal", "control", "network", "nova", "nova-api")
    assert hosts["ctl02"].line == 7
    assert hosts["compute04"].groups == ("baremetal", "compute")
    assert hosts["compute04"].line == 14


def test_ini_multinode_vars() -> None:
    hosts = by_name(load_sample("multinode"))
    common = {
        "ansible_python_interpreter": "/usr/bin/python3",
        "openstack_release": "2023.1",
        "enable_cinder": False,
    }
    assert hosts["deploy01"].vars == {
        **common,
        "ansible_user": "root",
        "ansible_connection": "local",
    }
    assert hosts["ctl01"].vars == {
        **common,
        "ansible_user": "kolla",  # host var beats all:vars
        "api_interface": "eth1",  # host var beats baremetal:vars
        "ansible_become": True,
    }
    assert hosts["compute04"].vars == {
        **common,
        "ansible_user": "ops",
        "ansible_become": True,
        "ansible_host": "10.0.0.24",
        "description": "rack 4, slot 2",  # quoted value with a space and a comma
        "api_interface": "eth2",  # compute (child) beats baremetal (parent)
        "nova_compute_virt_type": "kvm",
        "cpu_allocation_ratio": 4,
    }
    assert hosts["storageb"].vars["ansible_port"] == 2222
    assert hosts["mon01"].vars == {
        **common,
        "ansible_user": "root",
        "ansible_become": True,
        "api_interface": "eth0",
    }


def test_ini_value_conversion() -> None:
    inventory, problems = ini(
        """
        h1 a=1 b=-7 c=TRUE d=No e=010 f=1.5 g="two words" h='x=y' i=
        [all:vars]
        q="42"
        r=yes
        s = spaced value
        """
    )
    assert problems == []
    assert inventory.hosts[0].vars == {
        "a": 1,
        "b": -7,
        "c": True,
        "d": False,
        "e": "010",
        "f": "1.5",
        "g": "two words",
        "h": "x=y",
        "i": "",
        "q": "42",  # quoted in a :vars section: stays a string
        "r": True,
        "s": "spaced value",
    }


def test_ini_host_defined_twice_merges_vars_and_groups() -> None:
    inventory, problems = ini(
        """
        [a]
        h1 x=1 y=1
        [b]
        h1 y=2
        """
    )
    assert problems == []
    (host,) = inventory.hosts
    assert host == AnsibleHost("h1", {"x": 1, "y": 2}, ("a", "b"), 2)


def test_ini_children_of_undefined_group_create_it_and_forward_references_work() -> None:
    inventory, problems = ini(
        """
        [parent:children]
        child
        ghost
        [child]
        h1
        """
    )
    assert problems == []
    assert inventory.groups == ("parent", "child", "ghost")
    assert inventory.hosts[0].groups == ("child", "parent")


def test_vars_precedence_all_parent_child_host() -> None:
    inventory, problems = ini(
        """
        loose
        [top:children]
        mid
        [mid:children]
        leaf
        [leaf]
        own x=host
        plain
        [mid]
        middle
        [alpha]
        twin
        [beta]
        twin
        [all:vars]
        x=all
        [leaf:vars]
        x=leaf
        [top:vars]
        x=top
        [mid:vars]
        x=mid
        [alpha:vars]
        x=alpha
        [beta:vars]
        x=beta
        """
    )
    assert problems == []
    x = {name: host.vars["x"] for name, host in by_name(inventory).items()}
    # equal depth: the later name wins, as Ansible sorts groups by (depth, name)
    assert x == {"loose": "all", "own": "host", "plain": "leaf", "middle": "mid", "twin": "beta"}


def test_depth_not_file_order_decides_precedence() -> None:
    inventory, _ = ini(
        """
        [deep:vars]
        x=deep
        [deep]
        h1
        [shallow:children]
        deep
        [shallow:vars]
        x=shallow
        """
    )
    assert inventory.hosts[0].vars == {"x": "deep"}


# --- YAML --------------------------------------------------------------------------------


def test_yaml_equivalent_gives_same_hosts_vars_and_groups() -> None:
    from_ini, from_yaml = load_sample("multinode"), load_sample("multinode.yml")
    assert from_yaml.groups == from_ini.groups
    assert [(h.name, h.vars, h.groups) for h in from_yaml.hosts] == [
        (h.name, h.vars, h.groups) for h in from_ini.hosts
    ]


def test_yaml_lines_and_null_hosts() -> None:
    hosts = by_name(load_sample("multinode.yml"))
    assert hosts["deploy01"].line == 9
    assert hosts["ctl03"].line == 14
    assert hosts["mon01"].line == 37
    assert hosts["mon01"].groups == ("baremetal", "monitoring")


def test_yaml_scalars_keep_text_unless_int_or_bool() -> None:
    inventory, problems = yml(
        """
        all:
          hosts:
            h1:
              release: 2023.10
              port: 22
              flag: off
              empty: ~
              quoted: "yes"
              odd: !!int abc
        """
    )
    assert problems == []
    assert inventory.hosts[0].vars == {
        "release": "2023.10",
        "port": 22,
        "flag": False,
        "empty": "",
        "quoted": "yes",
        "odd": "abc",  # an explicit tag that does not fit keeps its text
    }


def test_yaml_merge_keys_and_empty_document() -> None:
    inventory, problems = yml(
        """
        all:
          hosts:
            h1: &base {a: 1, b: 2}
            h2:
              <<: *base
              b: 3
        """
    )
    assert problems == []
    assert [h.vars for h in inventory.hosts] == [{"a": 1, "b": 2}, {"a": 1, "b": 3}]
    assert parse_ansible_yaml("# nothing\n", "x") == (AnsibleInventory((), ()), [])


def test_yaml_self_referencing_anchor_is_refused_as_a_recursive_alias() -> None:
    inventory, problems = yml(
        """
        all: &a
          hosts: {h1: }
          children:
            x: *a
        """
    )
    assert inventory.hosts == ()
    problem = only_problem(problems)  # x, an alias of all, inside all: infinite once expanded
    assert problem.line == 4
    assert "recursive alias: *a is inside the value &a names" in problem.message


def test_looks_like_ansible_yaml() -> None:
    assert looks_like_ansible_yaml(yaml.safe_load((DATA / "multinode.yml").read_text()))
    assert looks_like_ansible_yaml({"all": {"children": {"a": None}}, "extra": None})
    assert looks_like_ansible_yaml({"web": {"hosts": {"w1": None}}, "db": {"vars": {}}})
    stackstep = {
        "hosts": {"ctl1": {"address": "10.0.0.1", "roles": ["controller"]}},
        "roles": {"controller": ["keystone"]},
        "release": {"from": "2023.1", "to": "2023.2"},
    }
    assert not looks_like_ansible_yaml(stackstep)
    assert not looks_like_ansible_yaml({"hosts": {"h1": {"address": "x", "vars": {}}}})
    assert not looks_like_ansible_yaml({"all": {"children": {}}, "defaults": {"x": 1}})
    assert not looks_like_ansible_yaml({"all": "text"})
    assert not looks_like_ansible_yaml({"all": None})
    assert not looks_like_ansible_yaml({})
    assert not looks_like_ansible_yaml(["all"])
    assert not looks_like_ansible_yaml("all: {}")


# --- malformed input: INI ----------------------------------------------------------------


def test_ini_vars_line_without_equals() -> None:
    inventory, problems = ini(
        """
        [web]
        w1
        [web:vars]
        http_port=80
        w2 nonsense
        """
    )
    problem = only_problem(problems)
    assert (problem.file, problem.line, problem.key) == ("hosts.ini", 5, "web:vars")
    assert "expected key=value" in problem.message
    assert "w2 nonsense" in problem.message
    assert problem.hint
    assert inventory.hosts[0].vars == {"http_port": 80}


def test_ini_unknown_section_type_skips_its_lines() -> None:
    inventory, problems = ini(
        """
        [web]
        w1
        [web:foo]
        anything at all
        [db]
        d1
        """
    )
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (3, "web")
    assert "unknown type 'foo'" in problem.message
    assert [h.name for h in inventory.hosts] == ["w1", "d1"]


def test_ini_invalid_section_header() -> None:
    _, problems = ini("[web\nw1\n[my group]\n")
    assert [(p.line, p.message) for p in problems] == [
        (1, "invalid section header '[web'"),
        (3, "invalid section header '[my group]'"),
    ]


def test_ini_malformed_ranges() -> None:
    inventory, problems = ini(
        """
        [compute]
        compute[01:]
        compute[05:01]
        compute[1:2]
        """
    )
    assert [p.line for p in problems] == [2, 3]
    assert "[START:END]" in problems[0].message
    assert problems[0].key == "compute[01:]"
    assert "end is before the start" in problems[1].message
    assert [h.name for h in inventory.hosts] == ["compute1", "compute2"]


def test_ini_children_cycle() -> None:
    inventory, problems = ini(
        """
        [a:children]
        b
        [b:children]
        c
        [c:children]
        a
        [c]
        h1
        """
    )
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (6, "c:children")
    assert "cycle" in problem.message
    assert inventory.hosts[0].groups == ("a", "b", "c")


def test_ini_group_cannot_be_its_own_child_nor_parent_of_all() -> None:
    _, problems = ini("[a:children]\na\nall\n")
    assert [(p.line, "cycle" in p.message) for p in problems] == [(2, True), (3, True)]


def test_ini_unbalanced_quote_and_bare_word_on_host_line() -> None:
    inventory, problems = ini(
        """
        [web]
        w1 motd="unclosed
        w2 port=80 oops
        """
    )
    assert [p.line for p in problems] == [2, 3]
    assert "No closing quotation" in problems[0].message
    assert problems[1].key == "w2"
    assert "'oops'" in problems[1].message
    assert [(h.name, h.vars) for h in inventory.hosts] == [("w2", {"port": 80})]


def test_ini_children_entry_must_be_a_group_name() -> None:
    _, problems = ini("[web:children]\nw1 ansible_host=10.0.0.1\n")
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (2, "web:children")
    assert "expected a group name" in problem.message


def test_ini_vars_for_undefined_group() -> None:
    _, problems = ini("[web]\nw1\n\n[wbe:vars]\nx=1\n")
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (4, "wbe")
    assert "undefined group" in problem.message


# --- malformed input: YAML ---------------------------------------------------------------


def test_yaml_syntax_error_is_one_problem_with_its_line() -> None:
    inventory, problems = yml(
        """
        all:
          hosts:
            h1: {a: 1
          vars: {}
        """
    )
    problem = only_problem(problems)
    assert problem.line == 4
    assert problem.message.startswith("YAML syntax error:")
    assert problem.file == "hosts.yml"
    assert inventory == AnsibleInventory((), ())
    _, problems = yml("all: {}\n---\nweb: {}\n")
    assert only_problem(problems).line == 2
    assert "expected a single document" in problems[0].message


def test_yaml_hosts_as_a_list() -> None:
    inventory, problems = yml(
        """
        all:
          children:
            controller:
              hosts: {ctl1: }
            compute:
              hosts:
                - compute01
                - compute02
        """
    )
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (7, "all.children.compute.hosts")
    assert problem.message == "expected a mapping of host names, got a list"
    assert [h.name for h in inventory.hosts] == ["ctl1"]
    assert inventory.groups == ("controller", "compute")


def test_yaml_misspelt_group_key_and_bad_host_vars() -> None:
    _, problems = yml(
        """
        all:
          chidren:
            web: {}
          hosts:
            h1: 10.0.0.1
            h2:
              roles: [a, b]
        """
    )
    assert [(p.line, p.key) for p in problems] == [
        (2, "all.chidren"),
        (5, "all.hosts.h1"),
        (7, "all.hosts.h2.roles"),
    ]
    assert "unexpected key 'chidren'" in problems[0].message
    assert problems[1].message == "expected a mapping of variables, got the scalar '10.0.0.1'"
    assert problems[2].message == "variable 'roles' must be a scalar, got a list"


def test_yaml_top_level_not_a_mapping() -> None:
    _, problems = yml("- all\n- web\n")
    problem = only_problem(problems)
    assert problem.line == 1
    assert problem.message == "expected a mapping of groups, got a list"


def test_yaml_range_error_and_cycle() -> None:
    _, problems = yml(
        """
        all:
          children:
            a:
              children:
                b:
                  hosts:
                    "node[c:a]":
                  children:
                    a:
        """
    )
    assert [(p.line, p.key) for p in problems] == [
        (7, "all.children.a.children.b.hosts.node[c:a]"),
        (9, "all.children.a.children.b.children.a"),
    ]
    assert "end is before the start" in problems[0].message
    assert "cycle" in problems[1].message


# --- never raising -----------------------------------------------------------------------

_INI_ALPHABET = st.sampled_from([*"ab[]:=#; \n'\"0123-_xyz", "children", "vars"])


@given(st.lists(_INI_ALPHABET, max_size=60).map("".join))
def test_ini_parser_never_raises(text: str) -> None:
    inventory, problems = parse_ansible_ini(text, "fuzz")
    assert all(p.file == "fuzz" and p.line is not None for p in problems)
    assert isinstance(inventory, AnsibleInventory)


_YAML_ALPHABET = st.sampled_from(
    [*"ab:{}[], -\n&*<'\"~1", "hosts", "vars", "children", "all", "  "]
)


@given(st.lists(_YAML_ALPHABET, max_size=60).map("".join))
def test_yaml_parser_never_raises(text: str) -> None:
    inventory, problems = parse_ansible_yaml(text, "fuzz")
    assert all(p.file == "fuzz" for p in problems)
    assert isinstance(inventory, AnsibleInventory)


# --- kolla-ansible group names -----------------------------------------------------------

KOLLA = {
    "h-glance-api": ["glance:api"],
    "h-placement-api": ["placement:api"],
    "h-nova-api": ["nova:api"],
    "h-nova-metadata": ["nova:api"],
    "h-nova-conductor": ["nova:conductor"],
    "h-nova-super-conductor": ["nova:conductor"],
    "h-nova-scheduler": ["nova:scheduler"],
    "h-nova-novncproxy": ["nova:novncproxy"],
    "h-nova-compute": ["nova:compute"],
    "h-neutron-server": ["neutron:server"],
    "h-neutron-openvswitch-agent": ["neutron:openvswitch-agent"],
    "h-neutron-dhcp-agent": ["neutron:dhcp-agent"],
    "h-neutron-l3-agent": ["neutron:l3-agent"],
    "h-neutron-metadata-agent": ["neutron:metadata-agent"],
    "h-cinder-api": ["cinder:api"],
    "h-cinder-scheduler": ["cinder:scheduler"],
    "h-cinder-volume": ["cinder:volume"],
    "h-heat-api": ["heat:api"],
    "h-heat-api-cfn": ["heat:api"],
    "h-heat-engine": ["heat:engine"],
    "h-swift-proxy-server": ["swift:proxy"],
    "h-swift-object-server": ["swift:object"],
    "h-keystone": ["keystone:keystone"],
    "h-horizon": ["horizon:dashboard"],
    "h-cinder-backup": [],
}


def test_kolla_per_service_groups_map_to_their_components() -> None:
    from stackstep.catalog import load_catalog
    from stackstep.inventory.loader import load_inventory
    from stackstep.planner import facts_from_inventory

    catalog = load_catalog()
    inventory = load_inventory(DATA / "kolla-services.ini", catalog.ansible_group_map())
    series = next(s for s in catalog.series if s.name == "modern")
    facts = facts_from_inventory(inventory, catalog, series)
    assert {h.name: list(h.components) for h in facts.hosts} == KOLLA
    # only the group stackstep has no component for is reported as ignored
    assert inventory.notes == (
        "Ansible group 'cinder-backup' maps to no stackstep role or service: ignored",
    )
    assert {h.name: h.groups for h in inventory.hosts}["h-cinder-backup"] == ("cinder-backup",)


def test_kolla_service_groups_under_a_parent_keep_the_parent_in_the_hosts_groups(
    tmp_path: Path,
) -> None:
    from stackstep.catalog import load_catalog
    from stackstep.inventory.loader import load_inventory

    catalog = load_catalog()
    path = tmp_path / "multinode.ini"
    path.write_text((DATA / "multinode").read_text())
    inventory = load_inventory(path, catalog.ansible_group_map())
    hosts = {h.name: h for h in inventory.hosts}
    assert "monitoring" in hosts["mon01"].groups and hosts["mon01"].roles == ()
    # kolla's [nova-api:children] nova: the per-service group adds nova:api
    assert "nova:api" in hosts["ctl01"].roles


def _reversed_chain(depth: int, *, loop: bool) -> str:
    lines = [f"[g{i + 1}:children]\ng{i}" for i in reversed(range(depth))]
    if loop:
        lines.append(f"[g0:children]\ng{depth}")
    return "\n".join([*lines, "[g0]", "h1"]) + "\n"


def test_long_children_chain_listed_top_down_is_linked_in_linear_time() -> None:
    import time

    started = time.process_time()  # CPU: no flake on a busy machine
    inventory, problems = parse_ansible_ini(_reversed_chain(20_000, loop=False), "hosts.ini")
    assert problems == []
    assert len(inventory.hosts[0].groups) == 20_001
    assert time.process_time() - started < 2.0


def test_a_huge_cycle_is_one_problem_found_in_linear_time() -> None:
    import time

    started = time.process_time()  # CPU: no flake on a busy machine
    _inventory, problems = parse_ansible_ini(_reversed_chain(20_000, loop=True), "hosts.ini")
    problem = only_problem(problems)
    assert "20001 :children links form cycles among groups" in problem.message
    assert (problem.line, problem.key) == (2, "g20000:children")
    assert time.process_time() - started < 2.0


def test_a_small_cycle_names_the_edge_that_closes_it_even_among_long_chains() -> None:
    text = _reversed_chain(3000, loop=False) + "[g2995:children]\ng3000\n"
    _inventory, problems = parse_ansible_ini(text, "hosts.ini")
    problem = only_problem(problems)
    assert problem.key == "g2995:children"
    assert "'g3000' is already an ancestor of 'g2995'" in problem.message
