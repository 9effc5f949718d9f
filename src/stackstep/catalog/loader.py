"""Load, merge and validate the catalog files (see the package docstring)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from stackstep.catalog.checks import check_role_lists, check_series_releases, check_services
from stackstep.catalog.series import PATCH_KEYS, checked, read_series, read_services
from stackstep.catalog.toml_lines import toml_lines
from stackstep.errors import CatalogError, Problem
from stackstep.model import names
from stackstep.model.catalog import Catalog, Release, RoleConflict, Series, Service
from stackstep.model.limits import MAX_DEPTH, InputFileError, nesting_too_deep, read_input
from stackstep.model.reader import Doc, Node

_VERSION = re.compile(r"^(20[0-9]{2})\.([12])$")
TOP_KEYS = ("release", "roles", "ansible_groups", "conflict")


@dataclass
class _Draft:
    releases: dict[str, Release] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ansible_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: list[RoleConflict] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    deferred: list[Callable[[Catalog], None]] = field(default_factory=list)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


def _shipped() -> list[tuple[str, str]]:
    data = resources.files("stackstep.catalog") / "data"
    files = [data / "releases.toml", data / "roles.toml"]
    files += sorted(
        (f for f in (data / "series").iterdir() if f.name.endswith(".toml")), key=lambda f: f.name
    )
    return [(f"<stackstep>/catalog/{f.name}", f.read_text(encoding="utf-8")) for f in files]


def load_catalog(user_files: tuple[str | Path, ...] = ()) -> Catalog:
    draft = _Draft()
    for name, text in _shipped():
        _read_file(draft, name, text)
    for path in user_files:
        try:
            text = read_input(path)
        except InputFileError as exc:
            draft.problems.append(Problem(f"cannot read: {exc}", str(path)))
            continue
        _read_file(draft, str(path), text)
    catalog = _assemble(draft)
    for check in draft.deferred:
        check(catalog)
    for doc in draft.docs:
        draft.problems.extend(doc.problems)
    if draft.problems:
        raise CatalogError(draft.problems)
    return catalog


def _read_file(draft: _Draft, name: str, text: str) -> None:
    draft.sources.append(name)
    draft.digest.update(name.encode() + b"\0" + text.encode())
    deep = nesting_too_deep(text, multiline_quotes=True)
    if deep is not None:
        message = f"arrays or inline tables nested deeper than {MAX_DEPTH} levels"
        draft.problems.append(Problem(message, name, deep, hint="stackstep reads no such file"))
        return
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of(str(exc))
        draft.problems.append(Problem(f"not valid TOML: {exc}", name, line, hint="fix the syntax"))
        return
    except RecursionError:  # a backstop: nesting_too_deep should have caught it
        draft.problems.append(Problem("nested too deep to read", name))
        return
    doc = Doc(name, toml_lines(text))
    draft.docs.append(doc)
    _read_document(draft, Node(doc, data))


def _line_of(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _read_document(draft: _Draft, root: Node) -> None:
    if root.has("name") and root.has("releases"):
        series = read_series(root)
        if series is not None:
            draft.series[series.name] = series
            check_services(root, series.services)
            node = root.child("releases")
            draft.deferred.append(lambda cat: check_series_releases(node, series, cat))
        return
    if root.has("series"):
        root.allow_keys(PATCH_KEYS)
        _patch_series(draft, root)
        return
    root.allow_keys(TOP_KEYS, "top-level key")
    for item in root.child("release").elements():
        release = _read_release(item)
        if release is not None:
            draft.releases[release.name] = release
    for item in root.child("conflict").elements():
        conflict = _read_conflict(item)
        if conflict is not None:
            draft.conflicts.append(conflict)
    for key, target in (("roles", draft.roles), ("ansible_groups", draft.ansible_groups)):
        node, lists = root.child(key), _read_lists(root.child(key))
        target.update(lists)
        if lists:
            draft.deferred.append(_role_check(node, lists))


def _read_conflict(node: Node) -> RoleConflict | None:
    if not node.expect_mapping():
        return None
    node.allow_keys(("roles", "reason"))
    roles, reason = node.texts("roles", required=True), node.text("reason", required=True)
    if len(roles) < 2:
        node.problem("a conflict names at least two roles", key="roles")
        return None
    return RoleConflict(roles, reason) if reason else None


def _role_check(node: Node, lists: dict[str, tuple[str, ...]]) -> Callable[[Catalog], None]:
    def check(catalog: Catalog) -> None:
        check_role_lists(node, lists, catalog)

    return check


def _read_release(node: Node) -> Release | None:
    if not node.expect_mapping():
        return None
    node.allow_keys(("name", "version", "slurp"))
    name, version = node.text("name", required=True), node.text("version", required=True)
    if name is not None and checked(node, "name", (name,), names.simple_name, "release name"):
        return None
    slurp = bool(node.flag("slurp"))
    if version is not None and not _VERSION.match(version):
        node.child("version").problem(
            f"{version!r} is not a release version", "write YYYY.1 or YYYY.2"
        )
        return None
    if name is None or version is None:
        return None
    return Release(name.lower(), version, 0, slurp)


def _read_lists(node: Node) -> dict[str, tuple[str, ...]]:
    if node.value is None or not node.expect_mapping():
        return {}
    return {key: node.texts(key) for key in node.key_names()}


def _patch_series(draft: _Draft, root: Node) -> None:
    name = root.text("series", required=True)
    if name is None:
        return
    base = draft.series.get(name)
    if base is None:
        known = ", ".join(draft.series) or "none"
        root.problem(f"no series named {name!r} to patch", f"known: {known}", key="series")
        return
    merged = {s.name: s for s in base.services}
    added: list[Service] = []
    for service in read_services(root):
        if service.name in merged:
            merged[service.name] = service
        else:
            added.append(service)
    services = tuple(merged.values()) + tuple(added)
    draft.series[name] = replace(base, services=services)
    check_services(root, services)


def _assemble(draft: _Draft) -> Catalog:
    ordered = sorted(draft.releases.values(), key=lambda r: tuple(map(int, r.version.split("."))))
    releases = tuple(replace(r, order=i) for i, r in enumerate(ordered))
    return Catalog(
        releases=releases,
        series=tuple(draft.series.values()),
        roles=dict(draft.roles),
        ansible_groups=dict(draft.ansible_groups),
        conflicts=tuple(draft.conflicts),
        sources=tuple(draft.sources),
        digest=draft.digest.hexdigest(),
    )
