"""Cross-checks of catalog data that no single key can show: references and cycles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from stackstep.model.catalog import Catalog, Series, Service
from stackstep.model.reader import Node


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in ``name -> names it comes after`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in edges.get(name, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        stack.pop()
        state[name] = 2
        return None

    for name in edges:
        if name not in state and (found := visit(name)) is not None:
            return found
    return None


def check_services(node: Node, services: tuple[Service, ...]) -> None:
    """``after`` names known services, has no cycle; guard patterns compile."""
    names = {n for s in services for n in s.names}
    elements = node.child("service").elements()
    for index, service in enumerate(services):
        where = elements[index] if index < len(elements) else node
        for dep in service.after:
            if dep not in names:
                where.problem(
                    f"{service.name!r} comes after unknown service {dep!r}",
                    "known: " + ", ".join(sorted(names)),
                    key="after",
                )
        for hook in (*service.pre_upgrade, *service.post_upgrade, *service.migrate):
            if hook.when is not None:
                try:
                    re.compile(hook.when.output_matches)
                except re.error as exc:
                    where.problem(f"hook {hook.name!r}: bad output_matches regex: {exc}")
    cycle = find_cycle({s.name: s.after for s in services})
    if cycle:
        node.problem(
            "services' 'after' constraints form a cycle: " + " -> ".join(cycle),
            "remove one of these constraints",
            key="service",
        )


def check_series_releases(node: Node, series: Series, catalog: Catalog) -> None:
    for name in series.releases:
        if catalog.release(name) is None:
            node.problem(
                f"series {series.name!r} names unknown release {name!r}",
                "add it to the releases or fix the name",
                key="releases",
            )


def known_entries(catalog: Catalog) -> set[str]:
    """Every role, service, alias and service:component any series knows."""
    return set(catalog.roles) | catalog.service_names()


def check_role_lists(node: Node, lists: Mapping[str, tuple[str, ...]], catalog: Catalog) -> None:
    known = known_entries(catalog)
    for role, entries in lists.items():
        for entry in entries:
            # a component one series lacks is fine (nova:cert left after havana)
            if entry not in known and entry.split(":", 1)[0] not in known:
                node.problem(
                    f"{entry!r} is neither a role nor a known service[:component]",
                    "see `stackstep catalog`",
                    key=role,
                )
    cycle = find_cycle(
        {r: [e for e in es if e in catalog.roles] for r, es in catalog.roles.items()}
    )
    if cycle:
        node.problem("roles include each other in a cycle: " + " -> ".join(cycle))
