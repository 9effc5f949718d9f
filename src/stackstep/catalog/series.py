"""Read one series document (a ``[[service]]`` list and its header) into values."""

from __future__ import annotations

from typing import cast

from stackstep.model import names
from stackstep.model.catalog import (
    HOOK_KINDS,
    Component,
    Database,
    Guard,
    Hook,
    HookKind,
    HookWhere,
    PerFamily,
    Probe,
    RepoCommand,
    Rolling,
    Series,
    Service,
)
from stackstep.model.names import Check
from stackstep.model.reader import Node


def checked(node: Node, key: str, values: tuple[str, ...], check: Check, what: str) -> bool:
    """Report each of ``values`` (read from ``node[key]``) that ``check`` refuses; any?"""
    child = node.child(key)
    refused = False
    for index, value in enumerate(values):
        bad = check(value)
        if bad is not None:
            where = index if isinstance(child.value, list) else None
            child.problem(f"{what} {value!r} {bad}", key=where)
            refused = True
    return refused


def checked_text(node: Node, key: str, check: Check, what: str) -> str | None:
    value = node.text(key)
    if value is not None:
        checked(node, key, (value,), check, what)
    return value


SERIES_KEYS = (
    "name",
    "title",
    "releases",
    "config_suffixes",
    "library_packages",
    "repo",
    "service",
)
PATCH_KEYS = ("series", "service")
SERVICE_KEYS = (
    "name",
    "title",
    "aliases",
    "after",
    "packages",
    "config_dirs",
    "migrate_on",
    "probe",
    "probe_on",
    "database",
    "component",
    "migrate",
    "pre_upgrade",
    "post_upgrade",
    "post_start",
    "upgrade_check",
    "rolling",
)
ROLLING_KEYS = ("healthcheck_disable", "expand", "contract", "unpin", "before_start")
COMPONENT_KEYS = (
    "name",
    "units",
    "stop_units",
    "httpd",
    "start_order",
    "restart_after_final_upgrade",
)
HOOK_KEYS = (
    "name",
    "kind",
    "description",
    "where",
    "argv",
    "user",
    "when",
    "params",
    "before_stop",
    "again_exit",
)
HOOK_PARAMS: dict[str, tuple[str, ...]] = {
    "command": (),
    "rename-configs": ("from_dir", "to_dir", "suffix", "replace", "with"),
    "link": ("path", "target"),
    "settings-merge": ("file",),
    "ini-ensure": ("file", "section", "key", "value"),
}


def read_series(node: Node) -> Series | None:
    node.allow_keys(SERIES_KEYS)
    name = node.text("name", required=True)
    releases = node.texts("releases", required=True)
    repo = node.child("repo")
    services = read_services(node)
    if not repo.expect_mapping():
        return None
    repo.allow_keys(("rpm", "deb"))
    command = RepoCommand(repo.texts("rpm", required=True), repo.texts("deb", required=True))
    if name is None:
        return None
    return Series(
        name=name,
        title=node.text("title") or name,
        releases=releases,
        services=services,
        repo=command,
        config_suffixes=_texts(node, "config_suffixes", names.package, "suffix")
        or (".rpmnew", ".rpmsave", ".dpkg-dist"),
        library_packages=_texts(node, "library_packages", names.package, "package name")
        or ("python*", "openstack-*"),
    )


def read_services(node: Node) -> tuple[Service, ...]:
    out: list[Service] = []
    seen: set[str] = set()
    for item in node.child("service").elements():
        service = read_service(item)
        if service is None:
            continue
        if service.name in seen:
            item.problem(f"service {service.name!r} is defined twice", "keep one definition")
        seen.add(service.name)
        out.append(service)
    if not node.child("service").elements() and node.has("service"):
        node.problem("expected [[service]] tables", key="service")
    return tuple(out)


def _texts(node: Node, key: str, check: Check, what: str) -> tuple[str, ...]:
    values = node.texts(key)
    checked(node, key, values, check, what)
    return values


def _per_family(
    node: Node, key: str, check: Check, what: str, required: bool = True
) -> PerFamily | None:
    child = node.child(key)
    if child.value is None:
        if required:
            node.problem(f"missing required key {key!r}", "give rpm = [...] and deb = [...]")
        return None
    if not child.expect_mapping():
        return None
    child.allow_keys(("rpm", "deb"))
    rpm, deb = child.texts("rpm", required=True), child.texts("deb", required=True)
    checked(child, "rpm", rpm, check, what)
    checked(child, "deb", deb, check, what)
    return PerFamily(rpm, deb)


def read_service(node: Node) -> Service | None:
    if not node.expect_mapping():
        return None
    node.allow_keys(SERVICE_KEYS)
    name = node.text("name", required=True)
    if name is not None:
        checked(node, "name", (name,), names.simple_name, "service name")
    packages = _per_family(node, "packages", names.package, "package name")
    components = tuple(
        c for c in (read_component(n) for n in node.child("component").elements()) if c
    )
    if not components:
        node.problem("a service needs at least one [[service.component]]", key="component")
    parts = [c.name for c in components]
    for key in ("migrate_on", "probe_on"):
        value = node.text(key)
        if value is not None and value not in parts:
            node.child(key).problem(f"no component named {value!r}", "one of: " + ", ".join(parts))
    if name is None or packages is None:
        return None
    return Service(
        name=name,
        title=node.text("title") or name,
        components=components,
        packages=packages,
        aliases=_texts(node, "aliases", names.simple_name, "alias"),
        after=node.texts("after"),
        migrate_on=node.text("migrate_on"),
        migrate=_hooks(node, "migrate", "migrate-host"),
        pre_upgrade=_hooks(node, "pre_upgrade", "migrate-host"),
        post_upgrade=_hooks(node, "post_upgrade", "migrate-host"),
        post_start=_hooks(node, "post_start", "migrate-host"),
        upgrade_check=node.texts("upgrade_check"),
        database=read_database(node.child("database")),
        probe=read_probe(node.child("probe")),
        probe_on=node.text("probe_on"),
        config_dirs=_texts(node, "config_dirs", names.absolute_path, "config dir"),
        rolling=read_rolling(node.child("rolling")),
    )


def read_rolling(node: Node) -> Rolling | None:
    """``[service.rolling]``: the health check's disable file, expand and contract."""
    if node.value is None or not node.expect_mapping():
        return None
    node.allow_keys(ROLLING_KEYS)  # an empty table: mixed versions work, defaults apply
    disable = checked_text(node, "healthcheck_disable", names.absolute_path, "disable file")
    expand = _hooks(node, "expand", "migrate-host") if node.has("expand") else None
    contract = _hooks(node, "contract", "migrate-host")
    before_start = _hooks(node, "before_start", "service-hosts")
    return Rolling(disable, expand, contract, before_start, bool(node.flag("unpin")))


def read_component(node: Node) -> Component | None:
    if not node.expect_mapping():
        return None
    node.allow_keys(COMPONENT_KEYS)
    name = node.text("name", required=True)
    if name is not None:
        checked(node, "name", (name,), names.simple_name, "component name")
    units = _per_family(node, "units", names.unit, "unit name")
    if name is None or units is None:
        return None
    return Component(
        name=name,
        units=units,
        stop_units=_per_family(node, "stop_units", names.unit, "unit name", required=False),
        httpd=bool(node.flag("httpd")),
        start_order=node.number("start_order", lo=0, hi=1000) or 50,
        restart_after_final_upgrade=bool(node.flag("restart_after_final_upgrade")),
    )


def read_probe(node: Node) -> Probe | None:
    if node.value is None or not node.expect_mapping():
        return None
    node.allow_keys(("port", "path", "deb_path", "expect", "scheme"))
    port = node.number("port", lo=1, hi=65535)
    path = node.text("path", required=True)
    for key in ("path", "deb_path"):
        checked_text(node, key, names.absolute_path, "URL path")
    expect = _status_codes(node)
    if port is None or path is None:
        if not node.has("port"):
            node.problem("missing required key 'port'", "add port = <number>")
        return None
    scheme = node.text("scheme", choices=("http", "https")) or "http"
    return Probe(port, path, expect, node.text("deb_path"), scheme)


def _status_codes(node: Node) -> tuple[int, ...]:
    raw = node.child("expect").value
    if raw is None:
        return (200,)
    ok = isinstance(raw, list) and raw and all(isinstance(c, int) and 100 <= c < 600 for c in raw)
    if not ok:
        node.child("expect").problem("expected a list of HTTP status codes", "e.g. [200, 300]")
        return (200,)
    return tuple(cast(list[int], raw))


def read_database(node: Node) -> Database | None:
    if node.value is None or not node.expect_mapping():
        return None
    node.allow_keys(("config", "section", "key", "name"))
    values = [node.text(k, required=True) for k in ("config", "section", "key", "name")]
    if any(v is None for v in values):
        return None
    config, section, key, name = cast(list[str], values)
    checked(node, "config", (config,), names.absolute_path, "config file")
    checked(node, "name", (name,), names.simple_name, "database name")
    return Database(config, section, key, name)


def _hooks(node: Node, key: str, default_where: HookWhere) -> tuple[Hook, ...]:
    out = []
    for element in node.child(key).elements():
        hook = read_hook(element, default_where)
        if hook is not None and hook.before_stop and key != "pre_upgrade":
            element.problem("before_stop applies to pre_upgrade hooks only", key="before_stop")
        elif hook is not None:
            out.append(hook)
    return tuple(out)


def read_hook(node: Node, default_where: HookWhere) -> Hook | None:
    if not node.expect_mapping():
        return None
    node.allow_keys(HOOK_KEYS)
    name = node.text("name", required=True)
    kind = node.text("kind", choices=HOOK_KINDS) or "command"
    where = node.text("where", choices=("migrate-host", "service-hosts")) or default_where
    argv = node.texts("argv")
    if kind == "command" and not argv:
        node.problem("a command hook needs argv = [...]", key="argv")
    params = _params(node.child("params"), HOOK_PARAMS.get(kind, ()))
    if name is None:
        return None
    return Hook(
        name=name,
        kind=cast(HookKind, kind),
        where=cast(HookWhere, where),
        description=node.text("description") or name,
        argv=argv,
        user=checked_text(node, "user", names.user, "user name"),
        when=read_guard(node.child("when")),
        params=params,
        before_stop=bool(node.flag("before_stop")),
        again_exit=node.number("again_exit", lo=1, hi=255),
    )


def _params(node: Node, required: tuple[str, ...]) -> dict[str, str | tuple[str, ...]]:
    if node.value is None:
        for key in required:
            node.problem(f"missing required parameter {key!r}")
        return {}
    if not node.expect_mapping():
        return {}
    out: dict[str, str | tuple[str, ...]] = {}
    for key, child in node.items():
        if isinstance(child.value, list):
            out[key] = node.texts(key)
        else:
            out[key] = node.text(key) or ""
        if key in _PARAM_CHECKS:
            value = out[key]
            checked(node, key, (value,) if isinstance(value, str) else value, *_PARAM_CHECKS[key])
    for key in required:
        if key not in out:
            node.problem(f"missing required parameter {key!r}", key=key)
    return out


_PATH: tuple[Check, str] = (names.absolute_path, "path")
_PARAM_CHECKS: dict[str, tuple[Check, str]] = {
    **dict.fromkeys(("from_dir", "to_dir", "path", "target", "file"), _PATH),
    "suffix": (names.package, "file suffix"),  # no "/": it names files beside the config
    # an INI section, key and value written into a config file: one line each, no [ ] =
    **dict.fromkeys(("section", "key", "value"), (names.ini_token, "INI name or value")),
}


def read_guard(node: Node) -> Guard | None:
    """``when = {argv, output_matches}`` or ``when = {argv, exit = [codes]}``."""
    if node.value is None or not node.expect_mapping():
        return None
    node.allow_keys(("argv", "output_matches", "exit", "user"))
    argv = node.texts("argv", required=True)
    pattern = node.text("output_matches")
    codes = _exit_codes(node.child("exit"))
    if pattern is None and not codes:
        node.problem("a `when` needs output_matches = REGEX or exit = [CODES]")
        return None
    if not argv:
        return None
    user = checked_text(node, "user", names.user, "user name")
    return Guard(argv, pattern or "", user, codes)


def _exit_codes(node: Node) -> tuple[int, ...]:
    raw = node.value
    if raw is None:
        return ()
    if isinstance(raw, list) and raw and all(type(c) is int and 0 <= c < 256 for c in raw):
        return tuple(cast(list[int], raw))
    node.problem("expected a list of exit statuses (0-255)", "e.g. exit = [1]")
    return ()
