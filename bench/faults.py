"""Fault table (root, the lab): each fault met during a lab upgrade must stop the run with
a one-screen explanation (host, step, cause, each service's state, the exact resume
command), and `stackstep resume --yes` must end the run with the right end state once
the fault is taken away.

Faults (stackstep/lab/faultcases.py): host unreachable (sshd stopped; network dropped),
package transaction failure, migration failure, a unit that will not start, a health gate
that never passes, a command timeout (the step's own limit: 10 minutes), disk full. Each
runs on a fresh cloud (a snapshot of `stackstep lab deploy --scenario havana`), and its
end state is compared with an uninterrupted run's (stackstep/lab/endstate.py).

    .venv/bin/python bench/faults.py [--quick] [--only NAME] [--show]

Prints `fault -> outcome` rows ("stopped clearly, resumed" is the only good outcome) and
what an explanation lacked; --quick leaves out the slow faults (network drop, timeout),
--show prints each explanation. Exit 0 when every row is good.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from stackstep.lab.campaign import prepare
from stackstep.lab.faultcases import FAULTS, explanation, fault_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the slow faults")
    parser.add_argument("--only", action="append", default=[], help="this fault (repeatable)")
    parser.add_argument("--show", action="store_true", help="print each stop's explanation")
    opts = parser.parse_args()
    chosen = [f for f in FAULTS if not (opts.quick and f.slow)]
    if opts.only:
        chosen = [f for f in chosen if f.name in opts.only]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="stackstep-faults-"))
    lab, inventory, snapshot, reference = prepare(work, log=lambda line: print(line, flush=True))
    rows = []
    for index, fault in enumerate(chosen):
        begun = time.monotonic()
        (result,) = fault_run(lab, inventory, work / f"fault{index}", [fault], reference, snapshot)
        text = explanation(result.stop.stdout)
        took = time.monotonic() - begun
        print(f"{fault.name} -> {result.row}  ({len(text.splitlines())} lines, {took:.0f} s)")
        for problem in result.problems + result.differences:
            print(f"    {problem}")
        if result.resumed is not None and result.resumed.exit_code != 0:
            print("    " + result.resumed.stdout[-1500:].replace("\n", "\n    "))
        if opts.show:
            print("    " + text.rstrip().replace("\n", "\n    "))
        sys.stdout.flush()
        rows.append(result.ok)
    lab.destroy()
    shutil.rmtree(work / "snapshot")
    print(f"journals and logs: {work}")
    print(
        f"faults: {len(rows)}, stopped clearly and resumed: {sum(rows)} "
        f"({time.monotonic() - started:.0f} s)"
    )
    return 0 if all(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
