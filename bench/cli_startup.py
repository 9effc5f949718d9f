"""Start-up of the CLI against click alone: `stackstep --help` and `stackstep plan --help`
must start in at most twice the time of a bare ``python -c 'import click'`` (issue 12).

Byte-compiles the stackstep that the venv's Python imports first (an installed package
has its .pyc; PYTHONDONTWRITEBYTECODE would otherwise make every run compile every
module), then times each command as a subprocess, best of several runs, and prints the
ratios. Reads no host, needs no root.

    .venv/bin/python bench/cli_startup.py [--runs N] [--check]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
STACKSTEP = ROOT / ".venv" / "bin" / "stackstep"
LIMIT = 2.0
BASELINE = "python -c 'import click'"


def best_of(runs: int, argv: list[str]) -> float:
    """The fastest of ``runs`` runs' wall time, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        took = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        best = min(best, took)
    return best


def compile_stackstep() -> Path:
    """Byte-compile the stackstep package the venv imports; its directory."""
    where = subprocess.run(
        [str(PYTHON), "-c", "import stackstep; print(stackstep.__path__[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", where], check=True)
    return Path(where)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when a ratio is above {LIMIT}"
    )
    args = parser.parse_args()
    package = compile_stackstep()
    baseline = best_of(args.runs, [str(PYTHON), "-c", "import click"])
    rows = [
        ("stackstep --help", [str(STACKSTEP), "--help"]),
        ("stackstep plan --help", [str(STACKSTEP), "plan", "--help"]),
    ]
    print(f"stackstep from {package}; best of {args.runs} runs, wall seconds")
    print(f"  {BASELINE:<28} {baseline:6.3f} s")
    worst = 0.0
    for title, argv in rows:
        took = best_of(args.runs, argv)
        ratio = took / baseline
        worst = max(worst, ratio)
        print(f"  {title:<28} {took:6.3f} s  {ratio:4.2f}x click (limit {LIMIT:.0f}x)")
    if args.check and worst > LIMIT:
        sys.exit(f"start-up is {worst:.2f}x click's, above {LIMIT:.0f}x")


if __name__ == "__main__":
    main()
