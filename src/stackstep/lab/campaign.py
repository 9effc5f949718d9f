"""Crash and fault campaigns on the lab cloud (bench/crash.py, bench/faults.py,
tests/lab/test_campaign.py): fresh clouds from a snapshot, `stackstep upgrade`/`resume`
as a child process that is SIGKILLed at a chosen moment, and the journal watched for it.

* :class:`Snapshot`: the hosts' writable layers copied once after `lab deploy` (hosts
  powered off cleanly); ``restore()`` gives the same fresh cloud again in seconds
  instead of a new deploy.
* :class:`Trigger`: when to act: after a delay, or when an event of a step is journalled
  (``step-started``, ``step-finished``, the Nth ``command``).
* :func:`run_stackstep`: start stackstep and wait for it, or for a trigger; on a trigger
  ``on_trigger`` runs (SIGKILL stackstep, or inject a fault).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stackstep.lab import endstate
from stackstep.lab.endstate import State
from stackstep.lab.errors import LabError
from stackstep.lab.hosts import HostRunner
from stackstep.lab.lab import Lab
from stackstep.lab.openstack.deploy import deploy

POLL = 0.003  # seconds between two looks at the journal


class Snapshot:
    """The lab hosts' upper layers, saved after a deploy and put back for each run."""

    def __init__(self, lab: Lab, where: Path) -> None:
        self.lab, self.where = lab, where

    def _runners(self) -> list[HostRunner]:
        state = self.lab.state
        assert state is not None, "the lab is down"
        return [self.lab.runner(h, Path(state.golden)) for h in state.hosts]

    def _cycle(self, between: Callable[[HostRunner], None]) -> None:
        """Power every host off (cleanly), run ``between`` on each, boot them again."""

        def one(runner: HostRunner) -> None:
            runner.power_off()
            runner.unmount()
            between(runner)
            runner.mount()
            runner.boot()
            _wait_running(runner)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, self._runners()))

    def take(self) -> None:
        shutil.rmtree(self.where, ignore_errors=True)
        self.where.mkdir(parents=True)

        def save(runner: HostRunner) -> None:
            _copy(runner.dir / "upper", self.where / runner.host.name)

        self._cycle(save)

    def restore(self) -> float:
        """The cloud as it was when the snapshot was taken; seconds it took."""
        started = time.monotonic()

        def put_back(runner: HostRunner) -> None:
            for sub in ("upper", "work"):
                shutil.rmtree(runner.dir / sub, ignore_errors=True)
            _copy(self.where / runner.host.name, runner.dir / "upper")
            (runner.dir / "work").mkdir()

        self._cycle(put_back)
        return time.monotonic() - started


def _wait_running(runner: HostRunner, tries: int = 5) -> None:
    """``wait_running``, again when it looked while nspawn was between two processes
    (it then says the host is not running although it boots)."""
    for attempt in range(tries):
        try:
            runner.wait_running()
            return
        except LabError:
            if attempt == tries - 1 or not runner.running():
                raise
            time.sleep(0.2)


def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)


@dataclass(frozen=True)
class Trigger:
    """``after`` seconds from the process start, or the ``nth`` journalled ``event``
    (step-started, step-finished, command) of ``step`` in this process's life."""

    after: float | None = None
    event: str = ""
    step: str = ""
    nth: int = 1

    def describe(self) -> str:
        if self.after is not None:
            return f"{self.after:.2f} s after start"
        if self.event == "command":
            return f"after command {self.nth} of {self.step}"
        return f"{self.event.removeprefix('step-')} {self.step}"


@dataclass
class Outcome:
    exit_code: int | None  # None: killed by us
    triggered: bool
    seconds: float
    stdout: str
    stderr: str
    running: list[str] = field(default_factory=list)  # steps journalled running at the trigger
    last_event: str = ""


def last_event_id(journal: Path) -> int:
    if not journal.exists():
        return 0
    with sqlite3.connect(journal) as db:
        try:
            row = db.execute("SELECT MAX(id) FROM events").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0] or 0)


class _Watcher:
    """Reads the events a process journals, from where it started."""

    def __init__(self, journal: Path, trigger: Trigger) -> None:
        self.journal, self.trigger = journal, trigger
        self.since = last_event_id(journal)
        self.count = 0
        self.last = ""
        self.db: sqlite3.Connection | None = None

    def _events(self) -> list[tuple[int, str, str | None]]:
        if self.db is None:
            if not self.journal.exists():
                return []
            self.db = sqlite3.connect(self.journal, timeout=5)
        try:
            return self.db.execute(
                "SELECT id, kind, step_id FROM events WHERE id > ? ORDER BY id", (self.since,)
            ).fetchall()
        except sqlite3.OperationalError:  # the tables are not there yet
            return []

    def fired(self, elapsed: float) -> bool:
        t = self.trigger
        if t.after is not None:
            return elapsed >= t.after
        for event_id, kind, step in self._events():
            self.since = event_id
            self.last = f"{kind} {step or ''}".strip()
            if kind == t.event and step == t.step:
                self.count += 1
                if self.count >= t.nth:
                    return True
        return False

    def running(self) -> list[str]:
        """Steps journalled running now (and the last event journalled)."""
        for event_id, kind, step in self._events():
            self.since, self.last = event_id, f"{kind} {step or ''}".strip()
        if self.db is None:
            return []
        try:
            rows = self.db.execute("SELECT step_id FROM steps WHERE state='running'").fetchall()
        except sqlite3.OperationalError:
            return []
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def stackstep_env(state: Path) -> dict[str, str]:
    return {**os.environ, "STACKSTEP_PLAIN": "1", "STACKSTEP_STATE_DIR": str(state)}


def run_stackstep(
    state: Path,
    args: list[str],
    trigger: Trigger | None = None,
    on_trigger: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timeout: float = 1800,
) -> Outcome:
    """Run ``stackstep ARGS`` (journal in ``state``) to its end, or until ``trigger``
    fires: then ``on_trigger(process)`` (default: SIGKILL) and, if the process still
    runs, wait for it to end."""
    state.mkdir(parents=True, exist_ok=True)
    journal = state / "journal.sqlite"
    watcher = _Watcher(journal, trigger) if trigger else None
    out, err = state / "last.stdout", state / "last.stderr"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackstep", *args],
            env=stackstep_env(state),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        triggered, running = False, []
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if watcher is not None and not triggered and watcher.fired(elapsed):
                    triggered = True
                    (on_trigger or kill)(proc)
                    running = watcher.running()
                if elapsed > timeout:
                    kill(proc)
                    raise TimeoutError(f"stackstep {' '.join(args)} ran over {timeout} s")
                time.sleep(POLL)
        finally:
            if watcher is not None:
                watcher.close()
            if proc.poll() is None:
                kill(proc)
    code = proc.returncode
    return Outcome(
        None if code == -signal.SIGKILL else code,
        triggered,
        time.monotonic() - started,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        running,
        watcher.last if watcher else "",
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as `kill -9` (the process has no chance to write anything more)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


# --- the crash campaign ---------------------------------------------------------------


@dataclass(frozen=True)
class StepInfo:
    id: str
    kind: str
    commands: int  # command events it journalled in the reference run


@dataclass
class Reference:
    """An uninterrupted run from the snapshot: its end state, steps and duration."""

    state: State
    steps: list[StepInfo]
    seconds: float


def reference_run(lab: Lab, snapshot: Snapshot, inventory: Path, state: Path) -> Reference:
    snapshot.restore()
    shutil.rmtree(state, ignore_errors=True)
    done = run_stackstep(state, ["upgrade", "-i", str(inventory), "--yes"])
    if done.exit_code != 0:
        raise RuntimeError(f"the reference run failed ({done.exit_code}):\n{done.stdout[-3000:]}")
    journal = state / "journal.sqlite"
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT s.step_id, s.kind, (SELECT COUNT(*) FROM events e WHERE e.step_id = s.step_id"
            " AND e.kind = 'command') FROM steps s ORDER BY s.started"
        ).fetchall()
    steps = [StepInfo(str(a), str(b), int(c)) for a, b, c in rows]
    return Reference(endstate.capture(lab, journal), steps, done.seconds)


def step_states(journal: Path) -> dict[str, str]:
    if not journal.exists():
        return {}
    with sqlite3.connect(journal) as db:
        try:
            return {str(a): str(b) for a, b in db.execute("SELECT step_id, state FROM steps")}
        except sqlite3.OperationalError:
            return {}


@dataclass(frozen=True)
class KillPoint:
    trigger: str
    running: tuple[str, ...]
    last_event: str


@dataclass
class KilledRun:
    kills: list[KillPoint]
    final: Outcome
    differences: list[str]
    repeats: list[str]
    probed: list[str]

    @property
    def equal(self) -> bool:
        return self.final.exit_code == 0 and not self.differences and not self.repeats


Chooser = Callable[[dict[str, str]], Trigger | None]


def killed_run(
    lab: Lab,
    snapshot: Snapshot,
    inventory: Path,
    state: Path,
    reference: Reference,
    choose: Chooser,
    kills: int,
    log: Callable[[str], None] = lambda line: None,
) -> KilledRun:
    """From a fresh cloud: `stackstep upgrade`, SIGKILLed at ``choose``'s trigger, then
    `stackstep resume --yes`, killed again, ... ``kills`` times (fewer when the run ends
    first), then resumed to its end; the end state compared with the reference."""
    snapshot.restore()
    shutil.rmtree(state, ignore_errors=True)
    journal = state / "journal.sqlite"
    points: list[KillPoint] = []

    def args() -> list[str]:
        if journal.exists() and endstate.run_status(journal) != "no run":
            return ["resume", "--yes"]
        return ["upgrade", "-i", str(inventory), "--yes"]  # killed before its run began

    final: Outcome | None = None
    while len(points) < kills:
        trigger = choose(step_states(journal))
        if trigger is None:
            break
        outcome = run_stackstep(state, args(), trigger)
        if not outcome.triggered or outcome.exit_code is not None:
            final = outcome  # it ended before the kill
            break
        point = KillPoint(trigger.describe(), tuple(outcome.running), outcome.last_event)
        points.append(point)
        running = ", ".join(point.running) or "none"
        log(f"  kill {len(points)}: {point.trigger} (running: {running}; last: {point.last_event})")
    if final is None:
        final = run_stackstep(state, args())
    diffs, repeats, probed = [], [], []
    if final.exit_code != 0:
        diffs.append(f"the last resume exited {final.exit_code}: {final.stdout[-2000:]}")
    if journal.exists() and endstate.run_status(journal) != "no run":
        run_id, _ = endstate.journal_run(journal)
        repeats = endstate.repeats_after_done(journal, run_id)
        probed = endstate.rerun_after_kill(journal, run_id)
        diffs += endstate.differences(reference.state, endstate.capture(lab, journal))
    return KilledRun(points, final, diffs, repeats, probed)


def prepare(
    work: Path, log: Callable[[str], None] = lambda line: None
) -> tuple[Lab, Path, Snapshot, Reference]:
    """A new lab with a fresh Grizzly cloud, its snapshot and an uninterrupted reference run."""
    started = time.monotonic()
    lab = Lab()
    lab.destroy()
    inventory = deploy(lab, "havana").inventory
    snapshot = Snapshot(lab, work / "snapshot")
    snapshot.take()
    log(f"fresh cloud deployed and saved in {time.monotonic() - started:.0f} s")
    reference = reference_run(lab, snapshot, inventory, work / "reference")
    log(f"reference run: {len(reference.steps)} steps in {reference.seconds:.1f} s")
    return lab, inventory, snapshot, reference
