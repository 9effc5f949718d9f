"""Planning scales linearly with the cloud, and big clouds plan fast.

1. In process: the per-host cost of planning and rendering big clouds as a ratio to a
   10-host baseline measured in the same run (target: ratio <= 2).
2. Through the real CLI, as a user runs it: ``stackstep plan -i generated.yaml`` (text)
   and ``--json`` on generated inventories of 1,000 and 5,000 hosts (3 controllers, the
   rest computes, one entry each), wall time (best of a few runs) and peak RSS of the
   process (targets: 1,000 hosts < 0.5 s, 5,000 hosts < 2.5 s, peak RSS < 300 MB).
   stackstep's modules are byte-compiled first, as an installed package has them (pip
   writes the .pyc files); a checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise
   recompile every module at each start, ~0.05 s more.

    .venv/bin/python bench/plan_scale.py [--runs N] [--cli-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

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


def ratios() -> None:
    base = seconds_per_host(10, repeat=30)
    print(f"baseline: 14 hosts, {base * 1e3:.3f} ms per host")
    for computes in (1_000, 5_000):
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


STACKSTEP = Path(sys.executable).with_name("stackstep")
TARGETS = {1_000: 0.5, 5_000: 2.5}  # seconds
MAX_RSS_MB = 300


def inventory_yaml(hosts: int) -> str:
    """A cloud as an operator writes it: every host its own entry and address."""
    lines = ["cloud: big", 'release: "2024.1"', 'target: "2025.1"', "defaults:"]
    lines += ["  user: stack", "  become: true", "  package_manager: dnf", "hosts:"]
    for i in range(1, 4):
        lines += [f"  ctl{i}:", f"    address: 10.0.0.{i}", "    roles: [controller, network]"]
    for i in range(hosts - 3):
        address = f"10.{1 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        lines += [f"  compute{i:05d}:", f"    address: {address}", "    roles: [compute]"]
    return "\n".join(lines) + "\n"


def run_cli(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of one run of the CLI, output discarded."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        assert proc.stderr is not None
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss: KiB


def compile_modules() -> None:
    """The .pyc files an installed stackstep has (see the module's docstring)."""
    import stackstep  # noqa: PLC0415

    source = str(Path(stackstep.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", source], check=True)


def absolute(runs: int) -> None:
    compile_modules()
    print(f"stackstep plan through the CLI, best of {runs} runs (wall and CPU s, peak RSS MB):")
    with tempfile.TemporaryDirectory(prefix="stackstep-plan-scale-") as tmp:
        for hosts, target in TARGETS.items():
            path = Path(tmp) / f"cloud-{hosts}.yaml"
            path.write_text(inventory_yaml(hosts))
            for label, extra in (("text", []), ("--json", ["--json"])):
                argv = [str(STACKSTEP), "plan", "-i", str(path), *extra]
                wall, rss, cpu = min(run_cli(argv) for _ in range(runs))
                verdict = "ok" if wall < target and rss < MAX_RSS_MB else "OVER TARGET"
                print(
                    f"  {hosts:>5} hosts, {label:<6}: {wall:6.2f} s (target < {target} s; "
                    f"CPU {cpu:.2f} s), peak RSS {rss:4.0f} MB (target < {MAX_RSS_MB} MB)"
                    f"  {verdict}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="CLI runs per case (best kept)")
    parser.add_argument("--cli-only", action="store_true", help="skip the in-process ratios")
    args = parser.parse_args()
    absolute(args.runs)  # first: a child forked from a big parent reports the parent's RSS
    if not args.cli_only:
        print()
        ratios()


if __name__ == "__main__":
    main()
