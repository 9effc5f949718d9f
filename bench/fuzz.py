"""Fuzz `stackstep plan` and `stackstep catalog` with structure-aware mutated inputs.

Every case (tests/fuzzgen.py: inventories in stackstep YAML, Ansible INI and YAML, catalog
TOML, command lines) must exit 0 or 2 within 2 s and 300 MB: no traceback (exit 70), no
other exit code, no network access, no planted command run. Cases run in long-lived
worker processes (imports done once), each case in a child forked from its worker that
calls the CLI in-process, with its own limits: a timer for the time, RLIMIT_AS (the
worker's size + the limit) as the memory backstop and the child's peak RSS (VmHWM, reset
as the case starts) as the measure. A case whose process dies, or a worker that hangs
(killed and replaced), counts against the limits.

    .venv/bin/python bench/fuzz.py                      # 10,000 cases, seed 0
    .venv/bin/python bench/fuzz.py --cases 500 --seed 7
    .venv/bin/python bench/fuzz.py --seed 0 --case 1234  # rerun one case, show its output

Failing cases are written to --out (default /tmp/stackstep-fuzz): one directory per case
with its files, `command` (rerun it from that directory) and `result`. Exits 1 if any
case failed. Case N of seed S is always the same case, whatever the number of workers.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import resource
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fuzzgen  # noqa: E402  (tests/ holds the generators the unit tests use too)

MB = 1024 * 1024


# ---------------------------------------------------------------- worker side


def _traceback_where(text: str) -> str:
    """The innermost stackstep frame of a printed traceback."""
    frames = re.findall(r'File "([^"]*/src/stackstep/[^"]*)", line (\d+), in (\S+)', text)
    if not frames:
        return ""
    file, line, func = frames[-1]
    return f" at {file.rsplit('/src/', 1)[-1]}:{line} {func}"


def _case(seed: int, index: int, kind: str) -> fuzzgen.Case:
    gen = fuzzgen.any_case if kind == "any" else fuzzgen.GENERATORS[kind]
    return gen(fuzzgen.RandomSource(f"{seed}:{index}"))


def run_one(case: fuzzgen.Case, seconds: float, memory: int, cpu: bool = False) -> dict[str, Any]:
    """Run one case under the limits; the result as JSON-able data."""
    work = Path(tempfile.mkdtemp(prefix="stackstep-fuzz-case-"))
    outcome: fuzzgen.Outcome | None = None
    verdict = None
    cpu_before = time.process_time()  # (not ``cpu``: that says which clock limits the case)
    start = time.perf_counter()
    try:
        with fuzzgen.limits(seconds, memory, cpu=cpu):
            outcome = fuzzgen.run_case(case, work)
    except fuzzgen.OverTime as exc:
        verdict = f"over-time in {exc.args[0]}"
    except MemoryError:
        verdict = "over-memory (MemoryError outside the CLI)"
    elapsed = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "seconds": elapsed,
        "cpu": time.process_time() - cpu_before,
        "peak": fuzzgen.vm("VmHWM"),
        "code": None if outcome is None else outcome.code,
        "problems": [],
        "output": "" if outcome is None else outcome.output[-4000:],
    }
    if verdict is not None:
        result["problems"].append(verdict)
    elif result["peak"] > memory:
        result["problems"].append(f"over-memory: peak RSS over {memory // MB} MB")
    if outcome is not None:
        found = fuzzgen.problems(outcome, case)
        at = _traceback_where(outcome.error or "")
        if outcome.error and "MemoryError" in outcome.error:
            found = [f"over-memory (MemoryError){at}", *found[1:]]
        elif outcome.error:
            found = [found[0] + at, *found[1:]]
        result["problems"] += found
        result["error"] = outcome.error
    return result


def worker(seconds: float, memory: int) -> None:
    """Read `seed index kind` lines, answer one JSON line each on the original stdout."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing stackstep prints may corrupt the answers
    warm = fuzzgen.Case("warm-up", {}, ["plan", "-i", str(ROOT / "examples" / "all-in-one.yaml")])
    run_one(warm, 30, memory)  # imports and caches: not part of any case
    answers.write("ready\n")
    for line in sys.stdin:
        seed, index, kind, clock = line.split()
        case = _case(int(seed), int(index), kind)
        result = _forked(partial(run_one, case, seconds, memory, clock == "cpu"), seconds)
        answers.write(json.dumps({"index": int(index), **result}) + "\n")


def _forked(run: Callable[[], dict[str, Any]], seconds: float) -> dict[str, Any]:
    """``run()`` in a child forked from the warm worker: each case is a process of its
    own, as a real `stackstep` run is (its peak RSS is its own, from the interpreter's
    size up, and what one big case allocated never counts against the next), without an
    interpreter start per case. The child dies with the worker and past a CPU backstop."""
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: run the case, write its result, leave at once
        os.close(read_end)
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        backstop = int(seconds * 5) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop))
        code = 0
        try:
            data = json.dumps(run()).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    if data:
        result: dict[str, Any] = json.loads(data)
        return result
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {status >> 8}"
    return {
        "seconds": time.perf_counter() - started,
        "cpu": None,
        "peak": None,
        "code": None,
        "problems": [f"the case's process died ({how}): over-memory, over-time or crash"],
        "output": "",
    }


# ---------------------------------------------------------------- parent side


@dataclass
class Worker:
    proc: subprocess.Popen[str]
    index: int | None = None
    started: float = 0.0

    def send(self, seed: int, index: int, kind: str, clock: str = "wall") -> None:
        assert self.proc.stdin is not None
        self.index, self.started = index, time.perf_counter()
        self.proc.stdin.write(f"{seed} {index} {kind} {clock}\n")
        self.proc.stdin.flush()


def _spawn(args: argparse.Namespace) -> Worker:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--time",
        str(args.time),
        "--memory",
        str(args.memory),
    ]
    env = {**os.environ, "STACKSTEP_DEBUG": "1"}  # exit 70 prints its traceback
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    assert proc.stdout is not None
    if proc.stdout.readline() != "ready\n":  # warmed up: its cases' clocks start now
        raise SystemExit(f"a worker failed to start (exit {proc.wait()})")
    return Worker(proc)


def _kill(w: Worker) -> None:
    w.proc.kill()
    w.proc.wait()


@dataclass
class Tally:
    codes: Counter[str] = field(default_factory=Counter)
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed: dict[int, tuple[float, float]] = field(default_factory=dict)
    restarts: int = 0

    def add(self, result: dict[str, Any]) -> None:
        self.results.append(result)
        self.codes[str(result["code"])] += 1
        if result["problems"]:
            self.failures[result["index"]] = result


def run_all(args: argparse.Namespace) -> Tally:
    """Feed the cases to the workers; replace a worker that dies or passes the hard limit."""
    tally = Tally()
    todo = iter(range(args.first, args.first + args.cases))
    workers = [_spawn(args) for _ in range(args.workers)]
    sel = selectors.DefaultSelector()
    hard = _hard(args)

    def start(w: Worker) -> None:
        index = next(todo, None)
        if index is None:
            w.index = None
            return
        assert w.proc.stdout is not None
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        w.send(args.seed, index, args.kind)

    def replace(w: Worker, problem: str) -> None:
        assert w.proc.stdout is not None
        sel.unregister(w.proc.stdout)
        _kill(w)
        tally.restarts += 1
        seconds = time.perf_counter() - w.started
        tally.add(
            {
                "index": w.index,
                "code": None,
                "seconds": seconds,
                "cpu": None,
                "peak": None,
                "problems": [problem],
                "output": "",
            }
        )
        fresh = _spawn(args)
        workers[workers.index(w)] = fresh
        start(fresh)

    for w in workers:
        start(w)
    done_shown = time.perf_counter()
    while any(w.index is not None for w in workers):
        for key, _ in sel.select(timeout=0.5):
            w = key.data
            line = w.proc.stdout.readline()
            if not line:
                replace(w, f"worker died (exit {w.proc.wait()}): over-memory or crash")
                continue
            tally.add(json.loads(line))
            sel.unregister(w.proc.stdout)
            start(w)
        now = time.perf_counter()
        for w in list(workers):
            if w.index is not None and now - w.started > hard:
                replace(w, f"over-time (killed after {hard:.0f} s)")
        if args.progress and now - done_shown > 10:
            done_shown = now
            print(
                f"  {len(tally.results)}/{args.cases} cases, {len(tally.failures)} failing",
                file=sys.stderr,
            )
    for w in workers:
        assert w.proc.stdin is not None
        w.proc.stdin.close()
        w.proc.wait()
    return tally


def _hard(args: argparse.Namespace) -> float:
    """Seconds after which a case is killed: the timer fires only between bytecodes, and
    a long C call or garbage collection can hold it back."""
    return float(args.time) * 2 + 1


def confirm_over_time(args: argparse.Namespace, tally: Tally) -> None:
    """Rerun, one at a time in a fresh worker, the cases that failed only by their time,
    limited to the same seconds of CPU time: on a machine shared with other work a case
    can miss 2 s of wall-clock time without needing them. A case within the limit in CPU
    time is listed as such, not counted as a failure."""
    slow = [i for i, r in tally.failures.items() if all("over-time" in p for p in r["problems"])]
    slow = slow[: args.reruns]  # the others stay failures
    if not slow:
        return
    w = _spawn(args)
    assert w.proc.stdin is not None and w.proc.stdout is not None
    for index in slow:
        w.send(args.seed, index, args.kind, "cpu")
        ready, _, _ = select.select([w.proc.stdout], [], [], _hard(args))
        line = w.proc.stdout.readline() if ready else ""
        if not line:  # stuck or dead again: it stays a failure
            _kill(w)
            w = _spawn(args)
            assert w.proc.stdin is not None and w.proc.stdout is not None
            continue
        again = json.loads(line)
        if not again["problems"]:
            tally.unconfirmed[index] = (tally.failures.pop(index)["seconds"], again["cpu"])
    if w.proc.stdin is not None:
        w.proc.stdin.close()
    w.proc.wait()


def classify(problem: str) -> str:
    names = ("network", "traceback", "over-time", "over-memory", "planted", "worker died")
    for name in (*names, "option", "faked"):
        if problem.startswith(name) or name in problem.split(":", 1)[0]:
            return name
    return problem.split(":", 1)[0]


def save(args: argparse.Namespace, index: int, result: dict[str, Any]) -> Path:
    case = _case(args.seed, index, args.kind)
    where = Path(args.out) / f"case-{args.seed}-{index}"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    case.write(where)
    (where / "command").write_text(
        f"# from this directory; generated by: bench/fuzz.py --seed {args.seed} --case {index}"
        f" --kind {args.kind}\n# mutations: {'; '.join(case.notes)}\n{case.command()}\n"
    )
    (where / "result").write_text(json.dumps(result, indent=2) + "\n")
    return where


def report(args: argparse.Namespace, tally: Tally, wall: float) -> int:
    results = tally.results
    kinds: Counter[str] = Counter()
    for result in tally.failures.values():
        kinds.update({classify(p) for p in result["problems"]})
    timed = [r for r in results if r["cpu"] is not None]
    print(
        f"cases: {len(results)} (seed {args.seed}, {args.workers} workers) in {wall:.1f} s"
        f" ({len(results) / wall:.0f} cases/s)"
    )
    print("exits: " + ", ".join(f"{code}: {n}" for code, n in sorted(tally.codes.items())))
    print(f"tracebacks: {kinds['traceback']}")
    print(f"over-time (> {args.time} s): {kinds['over-time']}")
    if tally.unconfirmed:
        shown = ", ".join(
            f"#{i} {a:.1f} s wall, {b:.2f} s CPU" for i, (a, b) in tally.unconfirmed.items()
        )
        print(f"  over {args.time} s wall but not of CPU time (load): {shown[:300]}")
    print(f"over-memory (> {args.memory} MB): {kinds['over-memory'] + kinds['worker died']}")
    print(f"network attempts: {kinds['network']}, planted commands run: {kinds['planted']}")
    print(f"input values taken as options: {kinds['option']}, faked output lines: {kinds['faked']}")
    other = {
        k: n
        for k, n in kinds.items()
        if k not in ("traceback", "over-time", "over-memory", "worker died", "network", "planted")
        and k not in ("option", "faked")
    }
    print(f"other failures: {sum(other.values())} {dict(other) if other else ''}".rstrip())
    print(f"workers replaced: {tally.restarts}")
    if timed:
        wall_ms = 1000 * sum(r["seconds"] for r in timed) / len(timed)
        cpu_ms = 1000 * sum(r["cpu"] for r in timed) / len(timed)
        print(f"per case: {wall_ms:.0f} ms wall, {cpu_ms:.0f} ms CPU on average")
    for label, key, unit, scale in (
        ("slowest", "seconds", "s", 1.0),
        ("biggest", "peak", "MB", MB),
    ):
        top = sorted((r for r in timed if r[key] is not None), key=lambda r: -r[key])[:5]
        shown = ", ".join(f"#{r['index']} {r[key] / scale:.2f} {unit}" for r in top)
        print(f"{label}: {shown}")
    if tally.failures:
        groups: dict[str, list[int]] = {}
        for index, result in sorted(tally.failures.items()):
            groups.setdefault(result["problems"][0][:150], []).append(index)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        with (Path(args.out) / "failures.txt").open("w") as listing:
            for index, result in sorted(tally.failures.items()):
                notes = "; ".join(_case(args.seed, index, args.kind).notes)
                listing.write(f"{index}\t{' | '.join(result['problems'])}\t{notes}\n")
        print(f"failing cases ({len(tally.failures)}, all in {args.out}/failures.txt):")
        for problem, indexes in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            where = save(args, indexes[0], tally.failures[indexes[0]])
            for index in indexes[1 : args.keep]:
                save(args, index, tally.failures[index])
            print(f"  {len(indexes):5d} x {problem}\n        e.g. {where}")
    return 1 if tally.failures else 0


def show_one(args: argparse.Namespace) -> int:
    case = _case(args.seed, args.case, args.kind)
    print(f"case {args.case} ({case.kind}): {'; '.join(case.notes)}")
    for name, data in case.files.items():
        print(f"--- {name} ({len(data)} bytes)\n{data[:2000].decode('utf-8', 'backslashreplace')}")
    print(f"--- {case.command()}")
    warm = fuzzgen.Case("warm-up", {}, ["plan", "-i", str(ROOT / "examples" / "all-in-one.yaml")])
    run_one(warm, 30, args.memory * MB)  # imports and caches: not part of the case
    result = run_one(case, args.time, args.memory * MB)
    print(result.get("error") or result["output"])
    print(json.dumps({k: v for k, v in result.items() if k not in ("output", "error")}))
    return 1 if result["problems"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--kind", choices=("any", *fuzzgen.GENERATORS), default="any")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--time", type=float, default=2.0, help="seconds per case")
    parser.add_argument("--memory", type=int, default=300, help="MB per case")
    parser.add_argument("--out", default="/tmp/stackstep-fuzz", help="where failing cases go")
    parser.add_argument("--keep", type=int, default=3, help="cases saved per kind of failure")
    parser.add_argument("--reruns", type=int, default=40, help="over-time cases rerun at most")
    parser.add_argument("--case", type=int, help="run only this case, in this process")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.time, args.memory * MB)
        return 0
    if args.case is not None:
        return show_one(args)
    fuzzgen.PWNED.unlink(missing_ok=True)
    start = time.perf_counter()
    tally = run_all(args)
    confirm_over_time(args, tally)
    return report(args, tally, time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
