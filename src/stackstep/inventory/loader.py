"""Load a stackstep inventory (YAML) or an Ansible inventory (INI or YAML).

The format is documented in docs/inventory.md. ``load_inventory`` reports every problem
found in one :class:`~stackstep.errors.InventoryError` (file, line, key path, fix).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import cast

from stackstep.errors import InventoryError, Problem
from stackstep.inventory.ansible import (
    AnsibleInventory,
    looks_like_ansible_yaml,
    parse_ansible_ini,
    parse_ansible_yaml,
)
from stackstep.inventory.from_ansible import ansible_problems, inventory_from_ansible
from stackstep.inventory.yaml_doc import load_yaml
from stackstep.model import names
from stackstep.model.catalog import Series
from stackstep.model.hostrange import RangeError, expand, size
from stackstep.model.inventory import (
    DEFAULT_LB_SOCKET,
    INIT_SYSTEMS,
    PACKAGE_MANAGERS,
    SERVER_PLACEHOLDER,
    TRANSPORTS,
    Host,
    InitSystem,
    Inventory,
    LoadBalancer,
    PackageManager,
    TransportKind,
)
from stackstep.model.limits import MAX_HOSTS, MAX_INCLUDES, InputFileError, read_input
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
    "endpoints",
    "vip",
    "load_balancer",
)
LB_KEYS = ("hosts", "socket", "backends", "server", "drain_timeout", "up_timeout")
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


def load_inventory(
    path: str | Path,
    group_map: GroupMap | None = None,
    *,
    services: Collection[str] | None = None,
) -> Inventory:
    """Read ``path``; ``group_map`` maps Ansible groups to roles (the catalog's).

    ``services`` (the catalog's service names and aliases), when given, is what
    ``migrate:`` and ``smoke:`` may name.
    """
    file = str(path)
    try:
        text = read_input(path)
    except InputFileError as exc:
        raise InventoryError([Problem(f"cannot read the inventory: {exc}", file)]) from None
    context = _Context(group_map or {}, services, (_identity(path),))
    return _load_text(text, file, context)


class _Context:
    """What every file of one inventory shares: maps, known names, the import chain."""

    def __init__(
        self, group_map: GroupMap, services: Collection[str] | None, chain: tuple[str, ...]
    ) -> None:
        self.group_map = group_map
        self.services = services
        self.chain = chain


def _identity(path: str | Path) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return str(path)


def _load_text(text: str, file: str, context: _Context) -> Inventory:
    digest = hashlib.sha256(text.encode()).hexdigest()
    if _is_ini(file, text):
        inv, problems = _from_ansible_ini(text, file, context.group_map)
    else:
        inv, problems = _from_yaml(text, file, context)
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
    return _checked_ansible(parsed, file, group_map)


def _checked_ansible(
    parsed: AnsibleInventory, file: str, group_map: GroupMap
) -> tuple[Inventory | None, list[Problem]]:
    """The hosts, once their variables pass the checks stackstep's own inventory gets."""
    problems = ansible_problems(parsed, file)
    if problems:
        return None, problems
    return inventory_from_ansible(parsed, file, group_map, Path(file).stem), []


def _from_yaml(text: str, file: str, context: _Context) -> tuple[Inventory | None, list[Problem]]:
    data, doc = load_yaml(text, file)
    if doc.problems:
        return None, doc.problems
    if looks_like_ansible_yaml(data):
        parsed, problems = parse_ansible_yaml(text, file)
        if problems:
            return None, problems
        return _checked_ansible(parsed, file, context.group_map)
    root = Node(doc, data)
    if data is None:
        doc.problem((), "the inventory is empty", "see docs/inventory.md for the format")
        return None, doc.problems
    return _read_inventory(root, file, context), doc.problems


def _read_inventory(root: Node, file: str, context: _Context) -> Inventory | None:
    if not root.expect_mapping():
        return None
    root.allow_keys(TOP_KEYS, "top-level key")
    defaults = _read_defaults(root.child("defaults"))
    hosts = _read_hosts(root, defaults, context.services)
    hosts += _imported_hosts(root, file, defaults, context)
    _check_duplicates(root, hosts)
    roles = _string_lists(root.child("roles"))
    smoke = _string_lists(root.child("smoke"))
    for key in ("cloud", "release", "target"):
        value = root.text(key)
        bad = names.printable(value) if value is not None else None
        if bad is not None:
            root.child(key).problem(f"{value!r} {bad}")
    _check_services(root.child("smoke"), list(smoke), context.services)
    endpoints = _endpoints(root.child("endpoints"), context.services)
    vip = root.text("vip")
    if vip is not None and (bad := _bad_address(vip)) is not None:
        root.child("vip").problem(bad, "write the load balancer's IP address or DNS name")
        vip = None
    balancer = _load_balancer(root.child("load_balancer"), hosts, context.services)
    return Inventory(
        name=root.text("cloud") or Path(file).stem,
        source=file,
        hosts=tuple(hosts),
        roles=roles,
        release=root.text("release"),
        target=root.text("target"),
        repo_command=root.texts("repo_command"),
        smoke=smoke,
        endpoints=endpoints,
        vip=vip,
        load_balancer=balancer,
        lines={
            **{f"smoke.{name}": root.doc.line(("smoke", name)) or 0 for name in smoke},
            **{key: root.doc.line((key,)) or 0 for key in ("release", "target")},
        },
    )


def _endpoints(node: Node, services: Collection[str] | None) -> dict[str, str]:
    """``endpoints: {service: URL}``: each service's load-balanced endpoint to probe."""
    found = _string_map(node, names.http_url, "URL: http://HOST:PORT/PATH")
    _check_services(node, list(found), services)
    return found


def _load_balancer(
    node: Node, hosts: list[Host], services: Collection[str] | None
) -> LoadBalancer | None:
    """``load_balancer:``: the HAProxy hosts, their admin socket, backend and server names."""
    if node.value is None or not node.expect_mapping():
        return None
    node.allow_keys(LB_KEYS, "load_balancer key")
    known = {h.name for h in hosts}
    lb_hosts = node.texts("hosts", required=True)
    for index, name in enumerate(lb_hosts):
        if name not in known:
            hint = "name a host of this inventory (under hosts:) that runs HAProxy"
            node.child("hosts").problem(f"unknown host {name!r}", hint, key=index)
    socket = node.text("socket") or DEFAULT_LB_SOCKET
    if (bad := names.absolute_path(socket)) is not None:
        node.child("socket").problem(f"{socket!r} {bad}", "the path of HAProxy's admin socket")
    backends = _string_map(node.child("backends"), names.haproxy_name, "backend name")
    _check_services(node.child("backends"), list(backends), services)
    server = node.text("server") or SERVER_PLACEHOLDER
    if (bad := names.haproxy_name(server.replace(SERVER_PLACEHOLDER, "x"))) is not None:
        node.child("server").problem(
            f"{server!r} {bad}", "e.g. {host} (the inventory host name) or {host}-api"
        )
    return LoadBalancer(
        hosts=lb_hosts,
        socket=socket,
        backends=backends,
        server=server,
        drain_timeout=node.number("drain_timeout", lo=1, hi=86400) or 120,
        up_timeout=node.number("up_timeout", lo=1, hi=86400) or 60,
    )


def _string_map(node: Node, check: Callable[[str], str | None], what: str) -> dict[str, str]:
    """A mapping of names to strings, each value passing ``check``."""
    if node.value is None or not node.expect_mapping():
        return {}
    found = {}
    for name in node.key_names():
        value = node.text(name)
        if value is None:
            continue
        if (bad := check(value)) is not None:
            node.problem(f"{value!r} {bad}", f"write the {what}", key=name)
            continue
        found[name] = value
    return found


def _check_services(node: Node, entries: list[str], services: Collection[str] | None) -> None:
    """``migrate:`` entries and ``smoke:`` keys name services the catalog knows."""
    if services is None:
        return
    for entry in entries:
        if entry not in services:
            close = difflib.get_close_matches(entry, list(services), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see `stackstep catalog`"
            key: str | None = (
                entry if node.path[-1:] in (("smoke",), ("endpoints",), ("backends",)) else None
            )
            node.problem(f"unknown service {entry!r}", hint, key=key)


def check_smoke(inventory: Inventory, series: Series) -> None:
    """Every ``smoke:`` key names a service of the series the plan uses (file, line, key)."""
    problems = [
        Problem(
            f"unknown service {name!r} for {series.title}",
            inventory.source,
            inventory.lines.get(f"smoke.{name}") or None,
            f"smoke.{name}",
            "known: " + ", ".join(s.name for s in series.services),
        )
        for name in inventory.smoke
        if series.service(name) is None
    ]
    if problems:
        raise InventoryError(problems)


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
    checks: list[tuple[str, Callable[[str], str | None], str]] = [
        ("user", names.user, "user name"),
        ("netns", names.simple_name, "network namespace"),
        ("identity_file", names.plain_text, "file name"),
        ("known_hosts", names.plain_text, "file name"),
        ("jump", names.plain_text, "jump host"),
    ]
    for key, check, what in checks:
        value = values[key]
        bad = check(value) if isinstance(value, str) else None
        if bad is not None:
            node.child(key).problem(f"{what} {value!r} {bad}")
            values[key] = None
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def _read_hosts(
    root: Node, defaults: Mapping[str, object], services: Collection[str] | None
) -> list[Host]:
    hosts_node = root.child("hosts")
    if hosts_node.value is None:
        if not root.has("ansible"):
            root.problem("missing required key 'hosts'", "list your hosts under hosts:")
        return []
    if not hosts_node.expect_mapping():
        return []
    out: list[Host] = []
    for pattern, node in hosts_node.items():
        try:
            count = size(pattern)  # from the bounds: nothing built yet
        except RangeError:
            count = 0  # _read_host_entry reports it
        if count <= MAX_HOSTS < len(out) + count:  # one pattern too big: expand says so
            node.problem(
                f"the inventory lists more than {MAX_HOSTS} hosts (ranges expanded)",
                "split the cloud into several inventories",
            )
            return []
        out.extend(_read_host_entry(pattern, node, defaults, services))
    return out


def _read_env(node: Node) -> dict[str, str] | None:
    if node.value is None or not node.expect_mapping():
        return None
    out: dict[str, str] = {}
    for key, child in node.items():
        bad = names.env_name(key)
        if bad is not None:
            child.problem(f"{key!r} {bad}", "an environment variable name is letters, digits and _")
        elif isinstance(child.value, (str, int, float)) and not isinstance(child.value, bool):
            out[key] = str(child.value)
        else:
            child.problem("expected a string value for an environment variable")
    return out


def _read_host_entry(
    pattern: str, node: Node, defaults: Mapping[str, object], known: Collection[str] | None
) -> list[Host]:
    if node.value is not None and not node.expect_mapping():
        return []
    node.allow_keys(HOST_KEYS)
    try:
        host_names = expand(pattern)
    except RangeError as exc:
        node.problem(str(exc))
        return []
    bad = names.host_name(host_names[0]) or names.host_name(host_names[-1])
    if bad is not None:
        node.problem(f"host name {pattern!r} {bad}")
        return []
    addresses = _addresses(node, host_names)
    conn = _connection(node, defaults)
    roles, services, migrate = node.texts("roles"), node.texts("services"), node.texts("migrate")
    _check_services(node.child("migrate"), list(migrate), known)
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
        for name, address in zip(host_names, addresses, strict=True)
    ]


def _addresses(node: Node, host_names: list[str]) -> list[str]:
    raw = node.text("address")
    if raw is None:
        return host_names
    try:
        addresses = expand(raw)
    except RangeError as exc:
        node.child("address").problem(str(exc))
        return host_names
    bad = next((b for a in (addresses[0], addresses[-1]) if (b := _bad_address(a))), None)
    if bad is not None:
        node.child("address").problem(bad, "write an IP address or a DNS name, nothing else")
        return host_names
    if len(addresses) == len(host_names):
        return addresses
    if len(addresses) == 1 and len(host_names) > 1:
        node.child("address").problem(
            f"{len(host_names)} hosts share the one address {raw!r}",
            "give a range of the same length, e.g. 10.0.0.[11:30]",
        )
    else:
        node.child("address").problem(
            f"the address range gives {len(addresses)} addresses for {len(host_names)} hosts",
            "make both ranges the same length",
        )
    return host_names


def _bad_address(value: str) -> str | None:
    bad = names.address(value)
    return None if bad is None else f"{value!r} {bad}: it must be an IP address or a DNS name"


def _string_lists(node: Node) -> dict[str, tuple[str, ...]]:
    """``name: [text, ...]`` mappings (roles, smoke commands)."""
    if node.value is None or not node.expect_mapping():
        return {}
    return {role: node.texts(role) for role in node.key_names()}


def _imported_hosts(
    root: Node, file: str, defaults: Mapping[str, object], context: _Context
) -> list[Host]:
    ref = root.text("ansible")
    if ref is None:
        return []
    node = root.child("ansible")
    path = Path(file).parent / ref
    identity = _identity(path)
    if identity in context.chain:
        node.problem(f"{ref!r} includes itself (an import cycle)", "point it at another file")
        return []
    if len(context.chain) > MAX_INCLUDES:
        node.problem(f"more than {MAX_INCLUDES} inventories import each other")
        return []
    try:
        text = read_input(path)
    except InputFileError as exc:
        node.problem(f"cannot read {ref!r}: {exc}")
        return []
    extra = {**context.group_map, **_string_lists(root.child("group_roles"))}
    inner = _Context(extra, context.services, (*context.chain, identity))
    try:
        imported = _load_text(text, str(path), inner)
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
