"""One process at a time carries a run out: the run lock (docs/state.md).

A process that carries a run out or changes its hosts (``upgrade``, ``resume``,
``restore``, ``reboot``, ``configs`` actions) holds an exclusive ``flock`` on the run's
``runs/RUN/lock`` (0600) until it ends; the kernel releases it when the process dies,
however it dies, so a lock is never left behind. The file says who holds it (one JSON
line: run, pid, command, cloud, since) for the refusal and for ``stackstep status``;
whether it is held is only ever asked of the kernel, never guessed from that pid.

A claim also refuses while another run of the same cloud in the same state directory is
live. Claims take ``runs/.claim`` first, so two processes starting at the same moment
cannot both find the cloud free.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from stackstep.engine.journal import Journal
from stackstep.errors import RunBusy

LOCK_NAME = "lock"
CLAIM_NAME = ".claim"
# a `status` elsewhere may hold a run's lock shared for a moment to see whether it is
# free: a claim tries again for this long before it calls the run busy
SETTLE = 0.5
# a claim takes milliseconds: one that waits this long for another is refused
CLAIM_WAIT = 10.0

__all__ = ["Holder", "RunLock", "claim", "has_lock", "holder", "live_run", "refuse_live"]


@dataclass(frozen=True)
class Holder:
    """The process that holds a run's lock now, as it wrote itself in the file."""

    run_id: str
    pid: int | None
    command: str
    cloud: str
    since: float | None
    resumable: bool = True  # a run of the journal (not a `reboot -i` check)

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "command": self.command, "since": self.since}


class RunLock:
    """A held run lock; :meth:`release` (or leaving the ``with``) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def released(self) -> bool:
        return self._fd is None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _lock_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / "runs" / run_id / LOCK_NAME


def _open_private(path: Path) -> int:
    """``path`` opened read-write, made 0600 if new; not inherited by commands we run."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _read(fd: int, run_id: str) -> Holder:
    """Who wrote itself into the lock file open as ``fd`` (what is missing: None/"")."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid, since = data.get("pid"), data.get("since")
    return Holder(
        run_id,
        pid if isinstance(pid, int) else None,
        str(data.get("command") or ""),
        str(data.get("cloud") or ""),
        float(since) if isinstance(since, (int, float)) else None,
        data.get("resumable") is not False,
    )


def _probe(path: Path, run_id: str) -> Holder | None:
    """The holder of the lock at ``path``, or None when it is free (or not there)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd, run_id)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def holder(state_dir: Path, run_id: str) -> Holder | None:
    """The live process that carries run ``run_id`` out, or None: none does (the run is
    finished, or its process died: the kernel released its lock)."""
    return _probe(_lock_path(state_dir, run_id), run_id)


def has_lock(state_dir: Path, run_id: str) -> bool:
    """Whether run ``run_id`` has a lock file (every run since run locks has one)."""
    return _lock_path(state_dir, run_id).exists()


def live_run(state_dir: Path, cloud: str, but: str = "") -> Holder | None:
    """A run of ``cloud`` (other than ``but``) whose lock a live process holds."""
    runs = state_dir / "runs"
    try:
        names = sorted(p.name for p in runs.iterdir() if p.name not in (but, CLAIM_NAME))
    except OSError:
        return None
    for name in names:
        found = _probe(runs / name / LOCK_NAME, name)
        if found is not None and found.cloud == cloud:
            return found
    return None


def refuse_live(state_dir: Path, cloud: str, resume: Callable[[str], str], but: str = "") -> None:
    """Raise :class:`RunBusy` naming a live run of ``cloud`` (other than ``but``)."""
    other = live_run(state_dir, cloud, but)
    if other is not None:
        raise _busy(other, resume, f"a run of cloud {cloud} is live: ")


@contextmanager
def _claiming(journal: Journal, run_id: str) -> Iterator[None]:
    """Claims one at a time (held for the few milliseconds a claim takes)."""
    fd = _open_private(journal.runs_dir() / CLAIM_NAME)
    try:
        _flock(fd, CLAIM_WAIT, lambda: RunBusy(run_id, None, "", ""))
        yield
    finally:
        os.close(fd)


def _flock(fd: int, wait: float, busy: Callable[[], RunBusy]) -> None:
    """An exclusive flock on ``fd``, trying for ``wait`` seconds; then ``busy()``."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise busy() from None
            time.sleep(0.02)


def claim(
    journal: Journal,
    run_id: str,
    cloud: str,
    command: str,
    resume: Callable[[str], str],
    *,
    resumable: bool = True,
) -> RunLock:
    """Hold run ``run_id``'s lock for this process (``command``: upgrade, resume, ...;
    ``resumable``: False for an id that is no run of the journal, `reboot -i`'s).

    Raises :class:`RunBusy` (exit 4) when a live process holds it, or holds a run of the
    same ``cloud``: the error names that run, its pid and command, and how to go on once
    it is free (``resume(RUN)``: the command that goes on with run RUN)."""
    with _claiming(journal, run_id):
        refuse_live(journal.state_dir, cloud, resume, but=run_id)
        path = journal.run_dir(run_id) / LOCK_NAME
        fd = _open_private(path)
        try:
            _flock(fd, SETTLE, lambda: _busy(_read(fd, run_id), resume))
            mine = {"run": run_id, "pid": os.getpid(), "command": command, "cloud": cloud}
            more = {"since": time.time(), "resumable": resumable}
            text = json.dumps({**mine, **more}) + "\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode(), 0)
        except BaseException:
            os.close(fd)
            raise
    return RunLock(path, fd)


def _busy(found: Holder, resume: Callable[[str], str], what: str = "") -> RunBusy:
    then = resume(found.run_id) if found.resumable else ""
    return RunBusy(found.run_id, found.pid, found.command, then, what=what)
