"""Properties of every plan, over generated inventories (hypothesis).

The tree order is the execution order: a sequential group runs its children one after
another; the children of a parallel group run at the same time. ``before(a, b)`` holds
when ``a`` certainly finishes before ``b`` starts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackstep.model.inventory import Host, Inventory
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series

ROLES = [
    "controller",
    "network",
    "compute",
    "storage",
    "all-in-one",
    "block-storage",
    "compute-nova-network",
    "identity",
    "image",
    "dashboard",
    "object-storage",
]
PAIRS = [
    ("grizzly", "havana"),
    ("2023.1", "2023.2"),
    ("2024.1", "2025.1"),
    ("flamingo", "gazpacho"),
]
SERVICES = ["keystone", "swift", "cinder", "glance", "neutron", "nova", "horizon", "placement"]


@st.composite
def clouds(draw: st.DrawFn) -> tuple[Inventory, PlanOptions]:
    count = draw(st.integers(1, 9))
    pm = draw(st.sampled_from(["yum", "dnf", "apt"]))
    hosts = []
    for i in range(count):
        roles = draw(st.lists(st.sampled_from(ROLES), max_size=3, unique=True))
        if i == 0:
            roles = ["controller", *roles]
        if {"compute", "all-in-one"} & set(roles):  # the catalog forbids holding both
            roles = [r for r in roles if r != "compute-nova-network"]
        hosts.append(
            Host(
                f"h{i:02d}",
                f"127.0.0.{i + 1}",
                roles=tuple(roles),
                package_manager=draw(st.sampled_from([pm, None])),
                init=draw(st.sampled_from(["systemd", "sysv", None])),
            )
        )
    src, dst = draw(st.sampled_from(PAIRS))
    skip = draw(st.lists(st.sampled_from(SERVICES), max_size=2, unique=True))
    options = PlanOptions(
        from_release=src,
        to_release=dst,
        strategy=draw(st.sampled_from(["service-by-service", "all-at-once"])),
        skip=tuple(s for s in skip if not (s == "placement" and src == "grizzly")),
        parallel=draw(st.integers(1, 30)),
        backup=draw(st.booleans()),
    )
    return Inventory("gen", "gen.yaml", tuple(hosts)), options


def make(catalog, inventory: Inventory, options: PlanOptions) -> Plan:
    src, dst = resolve_releases(catalog, inventory, options)
    facts = facts_from_inventory(inventory, catalog, resolve_series(catalog, src, dst))
    return build_plan(inventory, catalog, facts, options)


def paths(plan: Plan) -> dict[str, tuple[tuple[Group, int], ...]]:
    """Step id -> the chain of (group, child index) from the root down to the step."""
    out: dict[str, tuple[tuple[Group, int], ...]] = {}

    def walk(group: Group, chain: tuple[tuple[Group, int], ...]) -> None:
        for index, child in enumerate(group.children):
            here = (*chain, (group, index))
            if isinstance(child, Step):
                assert child.id not in out, f"duplicate step id {child.id}"
                out[child.id] = here
            else:
                walk(child, here)

    walk(plan.root, ())
    return out


def before(where, a: Step, b: Step) -> bool:
    for (group_a, index_a), (group_b, index_b) in zip(where[a.id], where[b.id], strict=False):
        assert group_a is group_b
        if index_a != index_b:
            return group_a.mode == "sequential" and index_a < index_b
    return False


def of(plan: Plan, kind: StepKind, service: str | None = None) -> list[Step]:
    return [s for s in plan.steps() if s.kind == kind and (service is None or s.service == service)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clouds())
def test_every_plan_keeps_the_promises(catalog, cloud):
    inventory, options = cloud
    plan = make(catalog, inventory, options)
    where = paths(plan)
    src, dst = resolve_releases(catalog, inventory, options)
    series = resolve_series(catalog, src, dst)

    # services in catalog order, and every `after` constraint kept
    catalog_order = [s.name for s in series.services]
    assert plan.services == tuple(sorted(plan.services, key=catalog_order.index))
    for name in plan.services:
        for dep in series.service(name).after:
            if dep in plan.services:
                assert plan.services.index(dep) < plan.services.index(name)
    assert not set(plan.services) & set(options.skip)

    for name in plan.services:
        migrations = of(plan, StepKind.MIGRATE_DB, name)
        starts = of(plan, StepKind.START_UNITS, name)
        if series.service(name).migrate:
            assert len(migrations) == 1, f"{name}: {len(migrations)} migrations"
            (migration,) = migrations
            upgrades = [
                s
                for s in plan.steps()
                if s.host == migration.host
                and s.kind in (StepKind.UPGRADE_PACKAGES, StepKind.FULL_UPGRADE)
                and s.service in (name, None)
            ]
            assert any(before(where, u, migration) for u in upgrades)
            assert all(before(where, migration, s) for s in starts)
        else:
            assert not migrations
        for stop in of(plan, StepKind.STOP_UNITS, name):
            later = [s for s in starts if s.host == stop.host]
            assert all(before(where, stop, s) for s in later)
        backups = of(plan, StepKind.BACKUP_DB, name)
        assert len(backups) == (1 if options.backup and series.service(name).database else 0)
        assert all(before(where, b, m) for b in backups for m in migrations)

    final = of(plan, StepKind.FULL_UPGRADE)
    assert sorted(s.host for s in final) == sorted(plan.hosts)
    restarts = {s.host: s for s in of(plan, StepKind.RESTART_UNITS)}
    if options.strategy == "service-by-service":
        computes = [
            s
            for s in of(plan, StepKind.START_UNITS, "nova")
            if any("nova-compute" in u for u in s.params.to_json()["units"])
        ]
        for start in computes:
            restart = restarts[start.host]
            assert any("nova-compute" in u for u in restart.params.to_json()["units"])
            full = next(s for s in final if s.host == start.host)
            assert before(where, full, restart)
            assert before(where, start, full)


@settings(max_examples=40, deadline=None)
@given(clouds())
def test_planning_is_deterministic(catalog, cloud):
    inventory, options = cloud
    assert make(catalog, inventory, options).hash == make(catalog, inventory, options).hash
