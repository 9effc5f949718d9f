"""Crash campaign (root, the lab): kill -9 stackstep during lab upgrades, resume, and
compare the end state with an uninterrupted run's.

On fresh Grizzly clouds (`stackstep lab deploy --scenario havana` once, then a snapshot
of the hosts put back for each run), `stackstep upgrade` is SIGKILLed at seeded random
moments and right after chosen steps (when a step is journalled started or done, or
after its Nth command); each kill is followed by `stackstep resume --yes`, which is
killed in its turn, until the kill points of the run are spent; a last resume must end
the run (exit 0). The end state (packages, units, stale code, config files with their
set-aside and `.stackstep-RUN` copies, service users, database schema/versions/row
counts, API answers, step states: stackstep/lab/endstate.py) is compared with the
reference run's, and the journal is read for steps started again after they were
journalled done.

    .venv/bin/python bench/crash.py [--runs 4] [--kills 8] [--seed 1]

Prints each kill point, each difference, then `kill points: N, end state equal: M`
(M counts the kill points of the runs whose end state equals the reference). Exit 0
when every run ended equal, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from stackstep.lab.campaign import (
    Chooser,
    Reference,
    Trigger,
    killed_run,
    prepare,
)

# steps whose kill windows matter most (several commands, files, the database)
INTERESTING = (
    "hook",
    "migrate-db",
    "backup-db",
    "upgrade-packages",
    "restart-units",
    "full-upgrade",
    "enable-repo",
    "start-units",
    "stop-units",
)
STARTUP = 1.5  # seconds before a resumed process's first step (discovery, plan)


def chooser(rng: random.Random, reference: Reference, kills: int) -> Chooser:
    """Seeded: half the kills at a random moment, half right after a chosen step event,
    each within the next 1/k of what is left (k kills to go), so they spread over the run."""
    made = 0

    def choose(states: dict[str, str]) -> Trigger | None:
        nonlocal made
        pending = [s for s in reference.steps if states.get(s.id, "pending") == "pending"]
        if not pending:
            return None
        share = 1 / max(1, kills - made)
        made += 1
        if rng.random() < 0.5:
            left = len(pending) / len(reference.steps) * reference.seconds
            return Trigger(after=round(rng.uniform(0.3, STARTUP + share * left), 2))
        window = pending[: max(1, round(share * len(pending)))]
        step = rng.choice([s for s in window if s.kind in INTERESTING] or window)
        events = [("step-started", 1), ("step-finished", 1)]
        events += [("command", n) for n in range(1, step.commands + 1)]
        event, nth = rng.choice(events)
        return Trigger(event=event, step=step.id, nth=nth)

    return choose


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="killed runs, each on a fresh cloud")
    parser.add_argument("--kills", type=int, default=8, help="kill points per run")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="stackstep-crash-"))
    lab, inventory, snapshot, reference = prepare(work, log=lambda line: print(line, flush=True))
    total = equal = 0
    runs_equal = 0
    for number in range(1, opts.runs + 1):
        print(f"run {number}:", flush=True)
        result = killed_run(
            lab,
            snapshot,
            inventory,
            work / f"run{number}",
            reference,
            chooser(rng, reference, opts.kills),
            opts.kills,
            log=lambda line: print(line, flush=True),
        )
        total += len(result.kills)
        for line in result.probed:
            print(f"  resume probed {line}")
        for line in result.repeats + result.differences:
            print(f"  DIFFERENCE {line}")
        if result.equal:
            equal += len(result.kills)
            runs_equal += 1
        verdict = "end state equal" if result.equal else "END STATE DIFFERS"
        print(f"  run {number}: {len(result.kills)} kill point(s), {verdict}", flush=True)
    lab.destroy()
    shutil.rmtree(work / "snapshot")
    print(f"journals and logs: {work}")
    print(
        f"kill points: {total}, end state equal: {equal} "
        f"({runs_equal} of {opts.runs} runs; seed {opts.seed}; "
        f"{time.monotonic() - started:.0f} s)"
    )
    return 0 if runs_equal == opts.runs else 1


if __name__ == "__main__":
    sys.exit(main())
