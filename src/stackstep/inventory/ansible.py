"""Pure parsers of Ansible inventories (INI and YAML) into a neutral structure.

Both parsers feed one collector (``_Builder``) and share one resolver (``_finish``) that
links groups, refuses cycles and merges variables with Ansible's precedence: ``all`` <
shallower groups < deeper groups (ties broken by group name) < the host's own variables.
Neither parser raises on bad input: every mistake becomes a ``Problem``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackstep.errors import Problem
from stackstep.inventory.yaml_doc import LimitError, compose, error_detail
from stackstep.model.hostrange import RangeError, expand, size
from stackstep.model.limits import MAX_HOSTS

MAX_CYCLIC_EDGES = 1000  # :children links inside cycles checked one by one
MAX_MEMBERSHIPS = 2_000_000  # (set of groups, group it inherits) pairs worked out

Value = str | int | bool
_Edge = tuple[str, str, int | None, str]  # parent, child, line, key path
_Parents = Mapping[str, list[str]]  # child group -> its parent groups
_Vars = Mapping[str, Value]

_IMPLICIT = ("all", "ungrouped")
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}
_GROUP_KEYS = ("hosts", "vars", "children")
_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class AnsibleHost:
    """One host with its merged variables and every group it belongs to."""

    name: str
    vars: Mapping[str, Value]
    groups: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class AnsibleInventory:
    """Hosts in first-seen order; groups (without ``all``/``ungrouped``) likewise."""

    hosts: tuple[AnsibleHost, ...]
    groups: tuple[str, ...]


@dataclass
class _Builder:
    """What a parser has read so far; mutable, private to this module."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    groups: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(_IMPLICIT))
    group_vars: dict[str, dict[str, Value]] = field(default_factory=dict)
    pending_vars: dict[str, int] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    host_lines: dict[str, int | None] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Value]] = field(default_factory=dict)
    host_groups: dict[str, set[str]] = field(default_factory=dict)
    walked: set[tuple[str, int]] = field(default_factory=set)
    listed: int = 0  # host names given so far, ranges expanded

    def problem(self, message: str, line: int | None, key: str | None, hint: str) -> None:
        self.problems.append(Problem(message, self.source, line, key, hint))

    def group(self, name: str, line: int | None) -> None:
        self.groups.setdefault(name, line)

    def add_vars(self, group: str, values: _Vars) -> None:
        self.group_vars.setdefault(group, {}).update(values)

    def hosts(self, pattern: str, group: str, line: int | None, values: _Vars, key: str) -> None:
        name, port = _split_port(pattern)
        if not name.strip():
            self.problem("empty host name", line, key, "give every host a name")
            return
        try:
            count = size(name)  # from the bounds: nothing built yet
            if count > MAX_HOSTS:
                expand(name)  # refuses it, saying how many names it would give
        except RangeError as exc:
            hint = "write a range as [START:END], e.g. compute[01:20] or node[a:c]"
            self.problem(str(exc), line, key, hint)
            return
        over = self.listed + count > MAX_HOSTS
        if over and self.listed <= MAX_HOSTS:
            message = f"the file lists more than {MAX_HOSTS} hosts (ranges expanded)"
            self.problem(message, line, key, "split the cloud into several inventories")
        self.listed += count
        if over:
            return
        for host in expand(name):
            self.host_lines.setdefault(host, line)
            own = self.host_vars.setdefault(host, {})
            if port is not None:
                own["ansible_port"] = port
            own.update(values)
            self.host_groups.setdefault(host, set()).add(group)


def _split_port(pattern: str) -> tuple[str, int | None]:
    """``host:2222`` -> (``host``, 2222); a colon inside a range is not a port."""
    tail = pattern.rsplit("]", 1)[-1]
    head, sep, port = pattern.rpartition(":")
    if sep and tail.count(":") == 1 and port.isdigit():
        return head, int(port)
    return pattern, None


def _convert(text: str) -> Value:
    return int(text) if _INT.match(text) else _BOOLS.get(text.lower(), text)


def parse_ansible_ini(text: str, source: str) -> tuple[AnsibleInventory, list[Problem]]:
    """Parse an INI inventory (``[group]``, ``[group:vars]``, ``[group:children]``)."""
    b = _Builder(source)
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            group, kind = _ini_section(b, line, number)
        elif kind == "hosts":
            _ini_host(b, group, line, number)
        elif kind == "vars":
            _ini_var(b, group, line, number)
        elif kind == "children":
            _ini_child(b, group, line, number)
    return _finish(b)


def _ini_section(b: _Builder, line: str, number: int) -> tuple[str, str]:
    match = _SECTION.match(line)
    if match is None:
        hint = "write a section as [group], [group:vars] or [group:children], without spaces"
        b.problem(f"invalid section header {line!r}", number, line, hint)
        return "", "skip"
    name, kind = match.group(1), match.group(2) or "hosts"
    if kind not in _GROUP_KEYS:
        hint = "the only section types are :vars and :children; rename the section"
        b.problem(f"section [{name}:{kind}] has unknown type {kind!r}", number, name, hint)
        return name, "skip"
    if kind == "vars":
        b.pending_vars.setdefault(name, number)
    else:
        b.group(name, number)
    return name, kind


def _ini_host(b: _Builder, group: str, line: str, number: int) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        hint = "close the quote, or escape it with a backslash"
        b.problem(f"cannot split host line: {exc}", number, group, hint)
        return
    pattern, *assignments = tokens or [""]
    values: dict[str, Value] = {}
    for token in assignments:
        key, sep, value = token.partition("=")
        if not sep or not key:
            hint = "write host variables as key=value; quote values that contain spaces"
            message = f"expected key=value after the host name, got {token!r}"
            b.problem(message, number, pattern, hint)
            continue
        values[key] = _convert(value)
    b.hosts(pattern, group, number, values, pattern)


def _ini_var(b: _Builder, group: str, line: str, number: int) -> None:
    key, sep, value = (part.strip() for part in line.partition("="))
    if not sep or not key or len(key.split()) != 1:
        hint = f"a [{group}:vars] section holds only key=value lines; move hosts to [{group}]"
        b.problem(f"expected key=value, got {line!r}", number, f"{group}:vars", hint)
        return
    b.add_vars(group, {key: _ini_value(value)})


def _ini_value(text: str) -> Value:
    """A quoted value stays a string; anything else is converted like host variables."""
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""
    return text[1:-1] if quoted else _convert(text)


def _ini_child(b: _Builder, group: str, line: str, number: int) -> None:
    match = _GROUP_NAME.match(line)
    if match is None:
        hint = f"a [{group}:children] section lists one group name per line; put hosts in [{group}]"
        b.problem(f"expected a group name, got {line!r}", number, f"{group}:children", hint)
        return
    child = match.group(1)
    b.group(child, number)
    b.edges.append((group, child, number, f"{group}:children"))


_CONSTRUCTOR = SafeConstructor()


def parse_ansible_yaml(text: str, source: str) -> tuple[AnsibleInventory, list[Problem]]:
    """Parse a YAML inventory (``all: {hosts: ..., vars: ..., children: ...}``)."""
    b = _Builder(source)
    try:
        root = compose(text)
    except yaml.YAMLError as exc:
        _yaml_error(b, exc, text)
        return _finish(b)
    hint = "start the file with a group, usually 'all:'"
    mapping = None if root is None else _mapping(b, root, "", "a mapping of groups", hint)
    for name, key_node, value in _pairs(b, mapping, ""):
        _yaml_group(b, name, key_node, value, parent=None, path=name)
    return _finish(b)


def _yaml_error(b: _Builder, exc: yaml.YAMLError, text: str | None = None) -> None:
    detail, line = error_detail(exc, text)
    if isinstance(exc, LimitError):
        b.problem(exc.problem, line, None, "stackstep reads no such inventory")
        return
    b.problem(f"YAML syntax error: {detail}", line, None, "fix the YAML syntax at this line")


def _yaml_group(
    b: _Builder, name: str, key: Node, node: Node, *, parent: str | None, path: str
) -> None:
    b.group(name, _line(key))
    if parent is not None:
        b.edges.append((parent, name, _line(key), path))
    hint = "a group is a mapping with 'hosts', 'vars' and/or 'children'"
    seen = (name, id(node)) in b.walked  # an anchor may contain an alias of itself
    b.walked.add((name, id(node)))
    mapping = None if seen else _mapping(b, node, path, "a group mapping", hint)
    for section, section_key, value in _pairs(b, mapping, path):
        where = f"{path}.{section}"
        if section == "hosts":
            _yaml_hosts(b, name, value, where)
        elif section == "vars":
            b.add_vars(name, _yaml_vars(b, value, where))
        elif section == "children":
            _yaml_children(b, name, value, where)
        else:
            hint = "a group may only have 'hosts', 'vars' and 'children'; check the spelling"
            message = f"unexpected key {section!r} in group {name!r}"
            b.problem(message, _line(section_key), where, hint)


def _yaml_hosts(b: _Builder, group: str, node: Node, path: str) -> None:
    hint = "write hosts as a mapping: 'hosts: {name: {var: value}}', a host may map to null"
    mapping = _mapping(b, node, path, "a mapping of host names", hint)
    for pattern, key_node, value in _pairs(b, mapping, path):
        where = f"{path}.{pattern}"
        b.hosts(pattern, group, _line(key_node), _yaml_vars(b, value, where), where)


def _yaml_children(b: _Builder, group: str, node: Node, path: str) -> None:
    hint = "write children as a mapping of group names: 'children: {compute: {hosts: ...}}'"
    mapping = _mapping(b, node, path, "a mapping of groups", hint)
    for child, key_node, value in _pairs(b, mapping, path):
        where = f"{path}.{child}"
        _yaml_group(b, child, key_node, value, parent=group, path=where)


def _yaml_vars(b: _Builder, node: Node, path: str) -> dict[str, Value]:
    mapping = _mapping(b, node, path, "a mapping of variables", "write name: value pairs")
    values: dict[str, Value] = {}
    for key, _key_node, value in _pairs(b, mapping, path):
        if isinstance(value, ScalarNode):
            values[key] = _scalar(value)
            continue
        hint = "only strings, numbers and booleans are read here; quote the value as a string"
        message = f"variable {key!r} must be a scalar, got {_kind(value)}"
        b.problem(message, _line(value), f"{path}.{key}", hint)
    return values


def _mapping(b: _Builder, node: Node, path: str, what: str, hint: str) -> MappingNode | None:
    """The node if it is a mapping; None (and a Problem unless it is null) otherwise."""
    if isinstance(node, MappingNode):
        return node
    if not _is_null(node):
        b.problem(f"expected {what}, got {_kind(node)}", _line(node), path, hint)
    return None


def _scalar(node: ScalarNode) -> Value:
    """ints and booleans keep their type; anything else keeps its text (``2023.10``)."""
    if node.tag in (f"{_TAG}int", f"{_TAG}bool"):
        with suppress(ValueError, KeyError):  # "!!int abc": keep the text
            value = _CONSTRUCTOR.construct_object(node)
            if isinstance(value, bool | int):
                return value
    if _is_null(node):
        return ""
    return str(node.value)


def _pairs(b: _Builder, node: MappingNode | None, path: str) -> Iterator[tuple[str, Node, Node]]:
    """Key text, key node and value node of a mapping, with ``<<`` merges applied."""
    if node is None:
        return
    try:
        _CONSTRUCTOR.flatten_mapping(node)
    except yaml.YAMLError as exc:
        _yaml_error(b, exc)
        return
    for key, value in node.value:
        if isinstance(key, ScalarNode) and not _is_null(key):
            yield str(key.value), key, value
        else:
            b.problem(f"expected a name, got {_kind(key)}", _line(key), path, "use a plain name")


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == f"{_TAG}null"


def _kind(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return "null" if _is_null(node) else f"the scalar {node.value!r}"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _finish(b: _Builder) -> tuple[AnsibleInventory, list[Problem]]:
    if b.listed > MAX_HOSTS:  # refused: do not merge the variables of every host
        return AnsibleInventory((), ()), b.problems
    for name, line in b.pending_vars.items():
        if name not in b.groups:
            hint = f"define the group with [{name}] or [{name}:children], or fix the name"
            b.problem(f"section [{name}:vars] names an undefined group", line, name, hint)
    tree = _Tree(_link(b))
    hosts: list[AnsibleHost] = []
    for name in b.host_lines:
        host = _host(b, name, tree)
        if host is None:
            hint = "make fewer groups inherit from each other, or split the inventory"
            message = f"hosts inherit more than {MAX_MEMBERSHIPS} group memberships"
            b.problem(message, b.host_lines[name], name, hint)
            return AnsibleInventory((), ()), b.problems
        hosts.append(host)
    groups = tuple(g for g in b.groups if g not in _IMPLICIT)
    problems = sorted(b.problems, key=lambda p: p.line or 0)
    return AnsibleInventory(tuple(hosts), groups), problems


def _link(b: _Builder) -> dict[str, list[str]]:
    """Child -> parents, adding edges in file order and refusing any that closes a cycle.

    Only an edge inside a strongly connected set of groups can close a cycle, so only
    those are checked, each by a walk within its set: linear for the usual acyclic file,
    however long its chains. Past MAX_CYCLIC_EDGES such edges, one problem says so.
    """
    parents: dict[str, list[str]] = {}
    edges: list[_Edge] = []
    seen: set[tuple[str, str]] = set()
    for edge in b.edges:
        parent, child, line, key = edge
        if (parent, child) in seen:
            continue
        seen.add((parent, child))
        if child == "all":
            _cycle_problem(b, edge)
            continue
        edges.append(edge)
    component = _components(edges)
    inner = [e for e in edges if component[e[0]] == component[e[1]]]
    if len(inner) > MAX_CYCLIC_EDGES:
        _, _, line, key = inner[0]
        hint = "make the :children links a tree (or a graph without loops)"
        b.problem(f"{len(inner)} :children links form cycles among groups", line, key, hint)
        inner_set = set(inner)
        edges = [e for e in edges if e not in inner_set]
        inner = []
    checked = set(inner)
    for edge in edges:
        parent, child, _line, _key = edge
        if edge in checked and _reaches(parent, child, parents, component):
            _cycle_problem(b, edge)
            continue
        parents.setdefault(child, []).append(parent)
    return parents


def _cycle_problem(b: _Builder, edge: _Edge) -> None:
    parent, child, line, key = edge
    hint = f"remove {child!r} from the children of {parent!r} or the reverse"
    message = f"group {child!r} is already an ancestor of {parent!r} (a cycle)"
    b.problem(message, line, key, hint)


def _reaches(group: str, target: str, parents: _Parents, component: Mapping[str, int]) -> bool:
    """Is ``target`` ``group`` or above it, walking only within their component?"""
    inside = component[group]
    seen: set[str] = set()
    todo = [group]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(p for p in parents.get(current, []) if component.get(p) == inside)
    return False


def _components(edges: list[_Edge]) -> dict[str, int]:
    """Strongly connected component of every group in ``edges`` (Kosaraju, iterative)."""
    down: dict[str, list[str]] = {}
    up: dict[str, list[str]] = {}
    for parent, child, _line, _key in edges:
        down.setdefault(parent, []).append(child)
        up.setdefault(child, []).append(parent)
    return _label_components(_finish_order([*down, *up], down), up)


def _finish_order(starts: list[str], down: Mapping[str, list[str]]) -> list[str]:
    """Kosaraju's first pass: every group after all the groups below it (depth first)."""
    order: list[str] = []
    visited: set[str] = set()
    for start in starts:
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, iter(down.get(start, [])))]
        while stack:
            node, children = stack[-1]
            nxt = next((c for c in children if c not in visited), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                visited.add(nxt)
                stack.append((nxt, iter(down.get(nxt, []))))
    return order


def _label_components(order: list[str], up: Mapping[str, list[str]]) -> dict[str, int]:
    """Kosaraju's second pass: walk up from the last finished group, one number each."""
    component: dict[str, int] = {}
    for number, start in enumerate(reversed(order)):
        if start in component:
            continue
        component[start] = number
        todo = [start]
        while todo:
            for parent in up.get(todo.pop(), []):
                if parent not in component:
                    component[parent] = number
                    todo.append(parent)
    return component


def _ancestors(groups: Iterable[str], parents: _Parents) -> set[str]:
    """The groups themselves and every group above them (not the implicit ``all``)."""
    seen: set[str] = set()
    todo = list(groups)
    while todo:
        group = todo.pop()
        if group not in seen:
            seen.add(group)
            todo.extend(parents.get(group, []))
    return seen


def _depth(group: str, parents: _Parents, memo: dict[str, int]) -> int:
    """Longest way up to ``all``; iterative, so a chain of any length is fine."""
    todo = [group]
    while todo:
        current = todo[-1]
        if current == "all" or current in memo:
            todo.pop()
            continue
        missing = [p for p in parents.get(current, []) if p != "all" and p not in memo]
        if missing:
            todo.extend(missing)
            continue
        todo.pop()
        memo[current] = 1 + max((memo.get(p, 0) for p in parents.get(current, [])), default=0)
    return memo.get(group, 0)


@dataclass
class _Tree:
    """The linked groups, and what a set of groups gives its hosts (worked out once)."""

    parents: _Parents
    depths: dict[str, int] = field(default_factory=dict)
    given: dict[frozenset[str], tuple[dict[str, Value], tuple[str, ...]]] = field(
        default_factory=dict
    )
    work: int = 0  # group memberships worked out so far, bounded by MAX_MEMBERSHIPS


def _host(b: _Builder, name: str, tree: _Tree) -> AnsibleHost | None:
    """The host with its merged variables; None past MAX_MEMBERSHIPS."""
    own = frozenset(b.host_groups[name])
    given = tree.given.get(own)
    if given is None:
        groups = _ancestors(own, tree.parents) | {"all"}
        tree.work += len(groups)
        if tree.work > MAX_MEMBERSHIPS:
            return None
        merged: dict[str, Value] = {}
        for group in sorted(groups, key=lambda g: (_depth(g, tree.parents, tree.depths), g)):
            merged.update(b.group_vars.get(group, {}))
        given = tree.given[own] = (merged, tuple(sorted(groups.difference(_IMPLICIT))))
    return AnsibleHost(name, {**given[0], **b.host_vars[name]}, given[1], b.host_lines[name])


def looks_like_ansible_yaml(data: object) -> bool:
    """True for Ansible's YAML shape (``{all: {children: ...}}``), not stackstep's own."""
    if not isinstance(data, Mapping) or not data or _is_stackstep_hosts(data.get("hosts")):
        return False
    groups = [value for value in data.values() if value is not None]
    return bool(groups) and all(
        isinstance(value, Mapping) and any(key in value for key in _GROUP_KEYS) for value in groups
    )


def _is_stackstep_hosts(hosts: object) -> bool:
    return isinstance(hosts, Mapping) and any(
        isinstance(value, Mapping) and "address" in value for value in hosts.values()
    )
