"""Downtime bench (root, the lab): each API's outage when stackstep upgrades the lab's
Grizzly cloud to Havana, against the seed's procedure run literally as a shell script
over ssh (bench/seed_upgrade.sh), both watched by the same prober; and the prober's cost.

Needs root, systemd-nspawn and the lab's tools (as `stackstep lab`), not in CI. Run from
a checkout (``make bench-downtime`` runs both modes):

    .venv/bin/python bench/downtime.py [--rounds 3] [--interval 0.2]
    .venv/bin/python bench/downtime.py --cost [--rounds 3]

Default mode: ``--rounds`` rounds, each on two freshly deployed clouds (`stackstep lab
destroy` + `lab deploy --scenario havana`): one upgraded by ``stackstep upgrade --yes
--no-probe``, one by bench/seed_upgrade.sh (run in the lab's network namespace with plain
OpenSSH); round 1 runs stackstep first, round 2 the script first, and so on. This bench's
own :class:`~stackstep.engine.prober.Prober` watches both, with the targets stackstep's
plan of that inventory probes (``probe_targets``), from before each side starts until a
second after it ends. A service's outage is the sum of its service-level windows (every
probed host down at once): for stackstep that includes the second window the after-phase
restart opens. Floors come from stackstep's journal (``report/downtime.py``). Prints each
run's raw figures, then one table of medians over the runs, the medians of its ratios
across services and the run count.

``--cost``: wall time of ``stackstep upgrade --yes`` of a fresh cloud with the prober (the
default) and with ``--no-probe``, ``--rounds`` of each in alternated order; prints each run,
the medians, their spread and ratio, then the CPU time the prober alone spends in its
process over 20 s (a figure the machine's load does not blur as much as wall times). Exit 0
when every run completed, 1 otherwise. The lab is left destroyed.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import stackstep
from stackstep.engine.journal import Journal
from stackstep.engine.prober import DEFAULT_INTERVAL, HttpTarget, Prober, probe_targets
from stackstep.lab import network
from stackstep.lab.lab import Lab
from stackstep.lab.openstack.deploy import deploy
from stackstep.model.availability import ProbeSession, StepSpan, Transition
from stackstep.model.inventory import Inventory
from stackstep.report.downtime import Downtime, analyse
from stackstep.session import RunRequest, prepare

SCRIPT = Path(__file__).with_name("seed_upgrade.sh")
READY_WITHIN = 60.0  # seconds for every API of a fresh cloud to answer before a side starts
CPU_SECONDS = 20.0  # the prober's own CPU use is measured over this long (--cost)
SETTLE = 1.0  # seconds probed after a side ends (its last start's window closes)


@dataclass
class Side:
    """One upgrade of one fresh cloud, as the bench's prober saw it."""

    name: str  # "stackstep" or "literal"
    exit_code: int
    seconds: float  # wall time of the upgrade command
    downtime: Downtime
    output: Path
    services: list[str] = field(default_factory=list)


def fresh_cloud() -> Path:
    """A freshly deployed Grizzly cloud (the lab destroyed first); its inventory."""
    lab = Lab()
    lab.destroy()
    return deploy(lab, "havana").inventory


def planned(inventory: Path) -> tuple[list[HttpTarget], list[str], Inventory]:
    """What stackstep's plan of ``inventory`` probes, its services in order."""
    prepared = prepare(RunRequest(inventory))
    return (
        probe_targets(prepared.plan.steps(), prepared.inventory),
        list(prepared.plan.services),
        prepared.inventory,
    )


async def watched(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    targets: Sequence[HttpTarget],
    interval: float,
    log: Path,
) -> tuple[int, float, ProbeSession]:
    """Run ``argv`` (output to ``log``) while a prober watches ``targets``: it starts once
    every target answers, the probe session runs until ``SETTLE`` s after it ends."""
    log.parent.mkdir(parents=True, exist_ok=True)
    seen: list[Transition] = []
    state: dict[str, bool] = {}

    def sink(t: Transition) -> None:
        seen.append(t)
        state[t.target.label] = t.up

    prober = Prober(targets, sink, interval)
    started = time.time()
    prober.start()
    deadline = time.monotonic() + READY_WITHIN
    while len(state) < len(targets) or not all(state.values()):
        if time.monotonic() > deadline:
            await prober.stop()
            down = sorted(k for k, up in state.items() if not up)
            raise RuntimeError(f"the fresh cloud's APIs do not all answer: {down}")
        await asyncio.sleep(interval)
    with log.open("wb") as out:
        began = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
        code = await proc.wait()
        seconds = time.monotonic() - began
    await asyncio.sleep(SETTLE)
    await prober.stop()
    ended = time.time()
    for error in prober.errors:
        print(f"  prober: {error}", flush=True)
    return code, seconds, ProbeSession(name, started, ended, interval, tuple(seen))


def stackstep_env(state: Path) -> dict[str, str]:
    return {**os.environ, "STACKSTEP_PLAIN": "1", "STACKSTEP_STATE_DIR": str(state)}


def upgrade_argv(inventory: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "stackstep", "upgrade", "-i", str(inventory), "--yes", *extra]


def journal_spans(state: Path) -> list[StepSpan]:
    """The steps of the run journalled in ``state`` (none when there is no run)."""
    if not (state / "journal.sqlite").exists():
        return []
    journal = Journal(state)
    try:
        run = journal.run(None)
        return journal.step_spans(run.id)
    finally:
        journal.close()


def _addresses(inventory: Inventory) -> dict[str, str]:
    """seed_upgrade.sh's host variables from the inventory's roles."""
    by_role: dict[str, list[str]] = {}
    for host in inventory.hosts:
        for role in host.roles:
            by_role.setdefault(role, []).append(host.address)
    first = inventory.hosts[0]
    found = {
        "CONTROLLER": " ".join(by_role.get("controller", [])),
        "NETWORK": " ".join(by_role.get("network", [])),
        "COMPUTES": " ".join(by_role.get("compute", [])),
        "STORAGE": " ".join(by_role.get("storage", [])),
        "SSH_KEY": first.identity_file or "",
        "KNOWN_HOSTS": first.known_hosts or "",
    }
    return {k: v for k, v in found.items() if v}


def run_side(name: str, work: Path, interval: float) -> Side:
    """A fresh cloud upgraded by ``name`` (stackstep, or the literal script), watched."""
    inventory = fresh_cloud()
    targets, services, parsed = planned(inventory)
    state = work / "state"
    if name == "stackstep":
        argv, env = upgrade_argv(inventory, "--no-probe"), stackstep_env(state)
    else:
        argv = ["ip", "netns", "exec", network.ROUTER_NS, "sh", str(SCRIPT)]
        env = {**os.environ, **_addresses(parsed)}
    output = work / "output.txt"
    code, seconds, session = asyncio.run(watched(name, argv, env, targets, interval, output))
    spans = journal_spans(state) if name == "stackstep" else []
    return Side(name, code, seconds, analyse([session], spans, services), output, services)


# --- printing ---------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def raw(number: int, side: Side) -> None:
    verdict = "ok" if side.exit_code == 0 else f"FAILED (exit {side.exit_code}; {side.output})"
    print(f"run {number} {side.name}: {side.seconds:.1f} s, {verdict}", flush=True)
    for row in side.downtime.services:
        windows = " + ".join(
            f"{w.duration:.2f}{' (open)' if w.window.open else ''}" for w in row.windows
        )
        floor = f", floor {row.floor:.2f} s" if row.floor is not None else ""
        print(f"  {row.service:<9} outage {_s(row.outage)} s = [{windows or 'no window'}]{floor}")


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def table(rounds: list[tuple[Side, Side]]) -> None:
    """Medians over the rounds; the ratios are each round's, then their median."""
    services = rounds[0][0].services
    head = (
        f"{'service':<9} {'stackstep s':>11} {'literal s':>9} {'floor s':>7} "
        f"{'stackstep/floor':>15} {'stackstep/literal':>17}"
    )
    print()
    print(
        "Outage per API, medians of the runs (service level: every probed host down; "
        "stackstep's includes its after-phase restart window; ratios: median of each run's)"
    )
    print(head)
    print("-" * len(head))
    by_floor, by_literal = [], []
    for name in services:
        ours = [s.downtime.service(name) for s, _ in rounds]
        theirs = [lit.downtime.service(name) for _, lit in rounds]
        mine = [r.outage if r else None for r in ours]
        literal = [r.outage if r else None for r in theirs]
        floors = [r.floor if r else None for r in ours]
        to_floor = _median([_ratio(o, f) for o, f in zip(mine, floors, strict=True)])
        to_literal = _median([_ratio(o, lit) for o, lit in zip(mine, literal, strict=True)])
        by_floor.append(to_floor)
        by_literal.append(to_literal)
        print(
            f"{name:<9} {_s(_median(mine)):>11} {_s(_median(literal)):>9} "
            f"{_s(_median(floors)):>7} {_x(to_floor):>15} {_x(to_literal):>17}"
        )
    print("-" * len(head))
    print(
        f"medians across services: stackstep/floor {_x(_median(by_floor))}, "
        f"stackstep/literal {_x(_median(by_literal))}; runs: {len(rounds)} of each"
    )


# --- modes ------------------------------------------------------------------------------


def downtime_mode(rounds: int, interval: float, work: Path) -> int:
    done: list[tuple[Side, Side]] = []
    failed = 0
    for number in range(1, rounds + 1):
        sides: dict[str, Side] = {}
        order = ["stackstep", "literal"] if number % 2 else ["literal", "stackstep"]
        for name in order:
            side = run_side(name, work / f"round{number}-{name}", interval)
            raw(number, side)
            sides[name] = side
        if any(s.exit_code != 0 for s in sides.values()):
            failed += 1
            continue
        done.append((sides["stackstep"], sides["literal"]))
    if done:
        table(done)
    return 1 if failed else 0


async def prober_cpu(targets: Sequence[HttpTarget], interval: float, seconds: float) -> float:
    """CPU seconds this process spends (every thread) probing ``targets`` for ``seconds``."""
    began = time.process_time()
    async with Prober(targets, lambda t: None, interval):
        await asyncio.sleep(seconds)
    return time.process_time() - began


def cost_mode(rounds: int, interval: float, work: Path) -> int:
    timed: dict[str, list[float]] = {"probe": [], "no-probe": []}
    failed = 0
    inventory = None
    for number in range(1, rounds + 1):
        order = ["probe", "no-probe"] if number % 2 else ["no-probe", "probe"]
        for name in order:
            inventory = fresh_cloud()
            state = work / f"cost{number}-{name}"
            state.mkdir()
            extra = ("--no-probe",) if name == "no-probe" else ("--probe-interval", str(interval))
            began = time.monotonic()
            with (work / f"cost{number}-{name}.txt").open("wb") as out:
                proc = subprocess.run(
                    upgrade_argv(inventory, *extra), env=stackstep_env(state), stdout=out,
                    stderr=out, stdin=subprocess.DEVNULL, check=False,
                )  # fmt: skip
            seconds = time.monotonic() - began
            verdict = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            label = "--no-probe" if name == "no-probe" else "prober on"
            print(f"run {number} upgrade, {label}: {seconds:.2f} s, {verdict}", flush=True)
            if proc.returncode == 0:
                timed[name].append(seconds)
            else:
                failed += 1
    on, off = _median(timed["probe"]), _median(timed["no-probe"])
    spread = {k: f"{min(v):.1f}-{max(v):.1f}" if v else "-" for k, v in timed.items()}
    print(
        f"\nwall time of `stackstep upgrade --yes` of a fresh cloud, medians of "
        f"{len(timed['probe'])} and {len(timed['no-probe'])} runs: prober on {_s(on)} s "
        f"({spread['probe']}), --no-probe {_s(off)} s ({spread['no-probe']}), "
        f"ratio {_ratio(on, off) or 0:.3f}"
    )
    if inventory is not None:
        targets = planned(inventory)[0]
        cpu = asyncio.run(prober_cpu(targets, interval, CPU_SECONDS))
        print(
            f"the prober alone ({len(targets)} targets every {interval} s) for {CPU_SECONDS:.0f} s "
            f"on the upgraded cloud: {cpu:.2f} CPU s in its process "
            f"({cpu / CPU_SECONDS * 100:.1f} % of one core; the hosts' answers not counted)"
        )
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (>= 1)")
    parser.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL, help="probe interval, s"
    )
    parser.add_argument("--cost", action="store_true", help="time the prober's cost instead")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/downtime.py needs root (the lab)", file=sys.stderr)
        return 2
    if opts.rounds < 1:
        print("--rounds must be 1 or more", file=sys.stderr)
        return 2
    # as an installed package runs: with its .pyc (this checkout may have none)
    compileall.compile_dir(Path(stackstep.__file__).parent, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="stackstep-downtime-"))
    started = time.monotonic()
    try:
        if opts.cost:
            code = cost_mode(opts.rounds, opts.interval, work)
        else:
            code = downtime_mode(opts.rounds, opts.interval, work)
    finally:
        Lab().destroy()
    print(f"outputs and journals: {work} ({time.monotonic() - started:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
