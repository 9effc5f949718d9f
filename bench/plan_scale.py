"""Planning scales linearly with the cloud: 1,000+ hosts plan in about the time per host
of a 10-host cloud. Prints the per-host cost of big clouds as a ratio to a 10-host
baseline measured in the same run (target: ratio <= 2).

    .venv/bin/python bench/plan_scale.py
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from stackstep.catalog import load_catalog
from stackstep.model.facts import Facts
from stackstep.model.inventory import Host, Inventory
from stackstep.planner import PlanOptions, build_plan, facts_from_inventory
from stackstep.planner.select import resolve_releases, resolve_series
from stackstep.report.plan_text import render_plan


def cloud(computes: int) -> Inventory:
    hosts = [Host(f"ctl{i}", f"127.0.1.{i}", roles=("controller",)) for i in range(1, 4)]
    hosts += [Host("net1", "127.0.2.1", roles=("network",))]
    hosts += [Host(f"cmp{i:04d}", "127.0.3.1", roles=("compute",)) for i in range(computes)]
    return Inventory("bench", "bench.yaml", tuple(hosts), release="grizzly")


PACKAGES = [f"python-lib{i}" for i in range(560)] + [
    "openstack-nova-common",
    "openstack-nova-compute",
    "openstack-glance",
    "python-glanceclient",
    "openstack-keystone",
    "python-keystoneclient",
    "openstack-quantum",
    "openstack-quantum-openvswitch",
]


def discovered(facts: Facts) -> Facts:
    """As discovery reports them: ~570 installed packages per host, one host behind."""
    hosts = []
    for n, host in enumerate(facts.hosts):
        versions = {p: "0:2013.1.4-1.el6" for p in PACKAGES}
        if n == len(facts.hosts) - 1:
            versions["openstack-nova-compute"] = "0:2013.1.3-2.el6"
        hosts.append(replace(host, versions=versions))
    return Facts(tuple(hosts), "discovery")


def seconds_per_host(computes: int, repeat: int, with_versions: bool = False) -> float:
    catalog = load_catalog()
    inventory = cloud(computes)
    options = PlanOptions()
    src, dst = resolve_releases(catalog, inventory, options)
    series = resolve_series(catalog, src, dst)
    facts = facts_from_inventory(inventory, catalog, series)
    facts = discovered(facts) if with_versions else facts
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        plan = build_plan(inventory, catalog, facts, options)
        render_plan(plan)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) / len(inventory.hosts)


def main() -> None:
    base = seconds_per_host(10, repeat=30)
    print(f"baseline: 14 hosts, {base * 1e3:.3f} ms per host")
    for computes in (1_000, 3_000):
        cost = seconds_per_host(computes, repeat=3)
        print(
            f"{computes + 4:>5} hosts: {cost * 1e3:.3f} ms per host, "
            f"ratio to baseline {cost / base:.2f} (target <= 2)"
        )
    # with discovered facts: preflight compares every service's package versions
    base = seconds_per_host(10, repeat=10, with_versions=True)
    print(f"baseline, discovered facts (~570 packages per host): {base * 1e3:.3f} ms per host")
    cost = seconds_per_host(1_000, repeat=3, with_versions=True)
    print(
        f" 1004 hosts, discovered facts: {cost * 1e3:.3f} ms per host, "
        f"ratio to baseline {cost / base:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    main()
