"""Load a stackstep inventory (YAML) or an Ansible inventory (INI or YAML).

The format is documented in docs/inventory.md. ``load_inventory`` reports every problem
found in one :class:`~stackstep.errors.InventoryError` (file, line, key path, fix).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from stackstep.errors import InventoryError, Problem
from stackstep.inventory.ansible import (
    looks_like_ansible_yaml,
    parse_ansible_ini,
    parse_ansible_yaml,
)
from stackstep.inventory.from_ansible import inventory_from_ansible
from stackstep.inventory.yaml_doc import load_yaml
from stackstep.model.hostrange import RangeError, expand
from stackstep.model.inventory import (
    INIT_SYSTEMS,
    PACKAGE_MANAGERS,
    TRANSPORTS,
    Host,
    InitSystem,
    Inventory,
    PackageManager,
    TransportKind,
)
from stackstep.model.reader import Node

TOP_KEYS = (
    "cloud",
    "release",
    "target",
    "repo_command",
    "defaults",
    "roles",
    "hosts",
    "ansible",
    "group_roles",
    "smoke",
)
CONNECTION_KEYS = (
    "user",
    "port",
    "identity_file",
    "become",
    "jump",
    "package_manager",
    "init",
    "transport",
    "env",
    "known_hosts",
    "netns",
)
HOST_KEYS = ("address", *CONNECTION_KEYS, "roles", "services", "migrate")
GroupMap = Mapping[str, tuple[str, ...]]


def load_inventory(path: str | Path, group_map: GroupMap | None = None) -> Inventory:
    """Read ``path``; ``group_map`` maps Ansible groups to roles (the catalog's)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a UTF-8 text file"
        raise InventoryError([Problem(f"cannot read the inventory: {reason}", file)]) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    if _is_ini(file, text):
        inv, problems = _from_ansible_ini(text, file, group_map or {})
    else:
        inv, problems = _from_yaml(text, file, group_map or {})
    if problems or inv is None:
        raise InventoryError(problems or [Problem("the inventory is empty", file)])
    return Inventory(**{**inv.__dict__, "digest": digest})


def _is_ini(file: str, text: str) -> bool:
    if file.endswith((".ini", ".cfg")):
        return True
    if file.endswith((".yaml", ".yml", ".json")):
        return False
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and ln[0] not in "#;"), "")
    return first.startswith("[") and first.endswith("]")


def _from_ansible_ini(
    text: str, file: str, group_map: GroupMap
) -> tuple[Inventory | None, list[Problem]]:
    parsed, problems = parse_ansible_ini(text, file)
    if problems:
        return None, problems
    return inventory_from_ansible(parsed, file, group_map, Path(file).stem), []


def _from_yaml(text: str, file: str, group_map: GroupMap) -> tuple[Inventory | None, list[Problem]]:
    data, doc = load_yaml(text, file)
    if doc.problems:
        return None, doc.problems
    if looks_like_ansible_yaml(data):
        parsed, problems = parse_ansible_yaml(text, file)
        if problems:
            return None, problems
        return inventory_from_ansible(parsed, file, group_map, Path(file).stem), []
    root = Node(doc, data)
    if data is None:
        doc.problem((), "the inventory is empty", "see docs/inventory.md for the format")
        return None, doc.problems
    inventory = _read_inventory(root, file, group_map)
    return inventory, doc.problems


def _read_inventory(root: Node, file: str, group_map: GroupMap) -> Inventory | None:
    if not root.expect_mapping():
        return None
    root.allow_keys(TOP_KEYS, "top-level key")
    defaults = _read_defaults(root.child("defaults"))
    hosts = _read_hosts(root, defaults)
    hosts += _imported_hosts(root, file, defaults, group_map)
    _check_duplicates(root, hosts)
    roles = _string_lists(root.child("roles"))
    return Inventory(
        name=root.text("cloud") or Path(file).stem,
        source=file,
        hosts=tuple(hosts),
        roles=roles,
        release=root.text("release"),
        target=root.text("target"),
        repo_command=root.texts("repo_command"),
        smoke=_string_lists(root.child("smoke")),
    )


def _read_defaults(node: Node) -> dict[str, object]:
    if node.value is None or not node.expect_mapping():
        return {}
    node.allow_keys(CONNECTION_KEYS)
    return _connection(node, {})


def _connection(node: Node, base: Mapping[str, object]) -> dict[str, object]:
    out = dict(base)
    values: dict[str, object | None] = {
        "user": node.text("user"),
        "port": node.number("port", lo=1, hi=65535),
        "identity_file": node.text("identity_file"),
        "become": node.flag("become"),
        "jump": node.text("jump"),
        "package_manager": node.text("package_manager", choices=PACKAGE_MANAGERS),
        "init": node.text("init", choices=INIT_SYSTEMS),
        "transport": node.text("transport", choices=TRANSPORTS),
        "env": _read_env(node.child("env")),
        "known_hosts": node.text("known_hosts"),
        "netns": node.text("netns"),
    }
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def _read_hosts(root: Node, defaults: Mapping[str, object]) -> list[Host]:
    hosts_node = root.child("hosts")
    if hosts_node.value is None:
        if not root.has("ansible"):
            root.problem("missing required key 'hosts'", "list your hosts under hosts:")
        return []
    if not hosts_node.expect_mapping():
        return []
    out: list[Host] = []
    for pattern, node in hosts_node.items():
        out.extend(_read_host_entry(pattern, node, defaults))
    return out


def _read_env(node: Node) -> dict[str, str] | None:
    if node.value is None or not node.expect_mapping():
        return None
    out: dict[str, str] = {}
    for key, child in node.items():
        if isinstance(child.value, (str, int, float)) and not isinstance(child.value, bool):
            out[key] = str(child.value)
        else:
            child.problem("expected a string value for an environment variable")
    return out


def _read_host_entry(pattern: str, node: Node, defaults: Mapping[str, object]) -> list[Host]:
    if node.value is not None and not node.expect_mapping():
        return []
    node.allow_keys(HOST_KEYS)
    try:
        names = expand(pattern)
    except RangeError as exc:
        node.problem(str(exc))
        return []
    addresses = _addresses(node, names)
    conn = _connection(node, defaults)
    roles, services, migrate = node.texts("roles"), node.texts("services"), node.texts("migrate")
    return [
        Host(
            name=name,
            address=address,
            port=cast(int, conn.get("port", 22)),
            user=cast(str, conn.get("user", "root")),
            identity_file=cast("str | None", conn.get("identity_file")),
            become=bool(conn.get("become", False)),
            jump=cast("str | None", conn.get("jump")),
            package_manager=cast("PackageManager | None", conn.get("package_manager")),
            init=cast("InitSystem | None", conn.get("init")),
            transport=cast("TransportKind", conn.get("transport", "ssh")),
            env=cast("dict[str, str]", conn.get("env", {})),
            known_hosts=cast("str | None", conn.get("known_hosts")),
            netns=cast("str | None", conn.get("netns")),
            roles=roles,
            services=services,
            migrate=migrate,
            line=node.line,
        )
        for name, address in zip(names, addresses, strict=True)
    ]


def _addresses(node: Node, names: list[str]) -> list[str]:
    raw = node.text("address")
    if raw is None:
        return names
    try:
        addresses = expand(raw)
    except RangeError as exc:
        node.child("address").problem(str(exc))
        return names
    if len(addresses) == len(names):
        return addresses
    if len(addresses) == 1 and len(names) > 1:
        node.child("address").problem(
            f"{len(names)} hosts share the one address {raw!r}",
            "give a range of the same length, e.g. 10.0.0.[11:30]",
        )
    else:
        node.child("address").problem(
            f"the address range gives {len(addresses)} addresses for {len(names)} hosts",
            "make both ranges the same length",
        )
    return names


def _string_lists(node: Node) -> dict[str, tuple[str, ...]]:
    """``name: [text, ...]`` mappings (roles, smoke commands)."""
    if node.value is None or not node.expect_mapping():
        return {}
    return {role: node.texts(role) for role in node.key_names()}


def _imported_hosts(
    root: Node, file: str, defaults: Mapping[str, object], group_map: GroupMap
) -> list[Host]:
    ref = root.text("ansible")
    if ref is None:
        return []
    path = Path(file).parent / ref
    extra = {**group_map, **_string_lists(root.child("group_roles"))}
    try:
        imported = load_inventory(path, extra)
    except InventoryError as exc:
        root.doc.problems.extend(exc.problems)
        return []
    base = {k: v for k, v in defaults.items() if k in ("package_manager", "init", "become", "jump")}
    return [_with_defaults(h, base) for h in imported.hosts]


def _with_defaults(host: Host, base: Mapping[str, object]) -> Host:
    changes = {k: v for k, v in base.items() if getattr(host, k) in (None, False)}
    return Host(**{**host.__dict__, **changes})


def _check_duplicates(root: Node, hosts: list[Host]) -> None:
    seen: dict[str, Host] = {}
    for host in hosts:
        first = seen.setdefault(host.name, host)
        if first is not host:
            where = f"line {first.line}" if first.line else "an imported inventory"
            root.doc.problems.append(
                Problem(
                    f"host {host.name!r} is defined twice (first at {where})",
                    root.doc.file,
                    host.line,
                    f"hosts.{host.name}",
                    "keep one definition",
                )
            )
