"""Rolling bench (root, the lab): the HA lab's flamingo -> gazpacho upgrade with
``--strategy rolling`` and with ``--strategy service-by-service``, each on a fresh
deploy (`stackstep lab deploy --scenario ha`), the load generator running through the
VIP the whole time (``--load RATE``, token validations at RATE/s, issues at RATE/10/s,
GETs on every other API). Prints, per service and side by side, the failed requests
and the outage seen through the VIP (the prober's endpoint windows), then each run's
wall time.

Needs root, systemd-nspawn and the lab's tools (as `stackstep lab`), not in CI:

    .venv/bin/python bench/rolling.py [--load 20] [--only rolling|service-by-service]
        [--catalog FILE]...   (default: the deploy's site catalog, catalog-ha.toml)
        [--flavour rpm|deb]   (the hosts: RDO-style, the default, or Ubuntu-style)
        [--parallel N]        (stackstep's --parallel, default 2 as the lab test)

Exit 0 when both runs completed, 1 otherwise. The lab is left destroyed; each run's
state directory (journal, log, report) is kept and named in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from stackstep.lab.lab import Lab
from stackstep.lab.openstack.deploy import deploy
from stackstep.lab.openstack.ha import CATALOG

STRATEGIES = ("rolling", "service-by-service")


@dataclass
class Side:
    strategy: str
    ok: bool = False
    seconds: float = 0.0
    failed: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    outage: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    state: str = ""  # the run's state dir, kept: its journal, log and report


def _openrc(path: Path) -> dict[str, str]:
    text = path.read_text()
    return dict(re.findall(r"^(?:export )?(OS_[A-Z_]+)=['\"]?([^'\"\n]*)['\"]?$", text, re.M))


def _read(side: Side, result: dict[str, object]) -> None:
    load = result.get("load")
    for svc in load.get("services", []) if isinstance(load, dict) else []:
        side.failed[svc["service"]] = int(svc["failed"])
        side.requests[svc["service"]] = int(svc["requests"])
        side.kinds[svc["service"]] = dict(svc.get("kinds") or {})
    downtime = result.get("downtime")
    for svc in downtime.get("services", []) if isinstance(downtime, dict) else []:
        via = svc.get("endpoints") or []
        side.outage[svc["service"]] = via[0]["outage_s"] if via else None


@dataclass(frozen=True)
class Options:
    """What both sides run with: the load rate, catalogs (None: the deploy's site
    catalog), the hosts' flavour and stackstep's ``--parallel``."""

    rate: str = "20"
    catalogs: list[str] | None = None
    flavour: str = "rpm"
    parallel: str = "2"


def run_side(strategy: str, options: Options) -> Side:
    side = Side(strategy)
    lab = Lab()
    lab.destroy()
    done = deploy(lab, "ha", flavour=options.flavour)
    catalogs = options.catalogs or [str(lab.root / CATALOG)]
    env = {**os.environ, **_openrc(lab.root / "openrc-ha"), "STACKSTEP_PLAIN": "1"}
    side.state = tempfile.mkdtemp(prefix=f"bench-rolling-{strategy}-")
    env["STACKSTEP_STATE_DIR"] = side.state
    argv = [sys.executable, "-m", "stackstep", "upgrade", "-i", str(done.inventory)]
    argv += ["--yes", "--json", "--load", options.rate, "--strategy", strategy]
    argv += ["--parallel", options.parallel]
    argv += [arg for path in catalogs for arg in ("--catalog", path)]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    side.seconds = time.monotonic() - started
    side.ok = proc.returncode == 0
    try:
        _read(side, json.loads(proc.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        side.note = f"no JSON result ({exc}): {proc.stderr[-500:]}"
    if not side.ok and not side.note:
        side.note = f"exit {proc.returncode}: {proc.stderr[-500:]}"
    lab.destroy()
    return side


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def report(sides: list[Side], options: Options) -> list[str]:
    services = sorted({s for side in sides for s in (*side.failed, *side.outage)})
    head = ["service"] + [
        f"{side.strategy}: {what}" for side in sides for what in ("failed/sent", "outage s")
    ]
    rows = [head]
    for name in services:
        row = [name]
        for side in sides:
            sent = side.requests.get(name)
            failed = side.failed.get(name)
            row.append(f"{_cell(failed)}/{_cell(sent)}" if sent is not None else "-")
            row.append(_cell(side.outage.get(name)))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = [
        f"failed requests and outage through the VIP (--load {options.rate}, "
        f"{options.flavour} hosts, --parallel {options.parallel}):"
    ]
    out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    for side in sides:
        kinds = "; ".join(
            f"{svc}: " + ", ".join(f"{k} {n}" for k, n in sorted(found.items()))
            for svc, found in sorted(side.kinds.items())
            if found
        )
        status = "completed" if side.ok else "FAILED"
        out.append(
            f"{side.strategy}: {status} in {side.seconds:.0f} s; failures: {kinds or 'none'}"
        )
        if side.note:
            out.append(f"  {side.note}")
        out.append(f"  state (journal, log, report): {side.state}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", default="20", help="token validations per second (20)")
    parser.add_argument(
        "--only", choices=STRATEGIES, action="append", help="run only this strategy"
    )
    parser.add_argument(
        "--catalog",
        action="append",
        help="a catalog file for stackstep (repeatable; default: the deploy's "
        f"{CATALOG}, the lab's differences from the shipped catalog)",
    )
    parser.add_argument("--flavour", choices=("rpm", "deb"), default="rpm", help="the hosts")
    parser.add_argument(
        "--parallel",
        default="2",
        help="stackstep's --parallel (2, as tests/lab/test_ha_rolling.py: the lab's hosts "
        "share this machine's cores, and package transactions on every host at once starve "
        "the keystones' token issues; the roll itself is one node at a time either way)",
    )
    args = parser.parse_args(argv)
    options = Options(args.load, args.catalog, args.flavour, args.parallel)
    sides = [run_side(s, options) for s in args.only or STRATEGIES]
    print("\n".join(report(sides, options)))
    return 0 if all(side.ok for side in sides) else 1


if __name__ == "__main__":
    sys.exit(main())
