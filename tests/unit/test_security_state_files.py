"""The state stackstep keeps (journal, run logs) is readable by its owner only: files
0600, directories 0700, whatever the umask (a root shell with ``umask 000`` included).
The journal and the logs hold commands with their output, which can carry config
values; tests/integration/test_security.py checks that secrets are masked in them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.engine.events import Event
from stackstep.engine.journal import Journal
from stackstep.engine.logfile import LogWriter


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000, 0o077], ids=["umask-022", "umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_state_dir_journal_and_run_logs_are_private(tmp_path: Path, umask: int) -> None:
    state = tmp_path / "home" / "state"
    journal = Journal(state)
    journal.record(Event("run-started", "RUN1", message="x"))  # the WAL files exist now
    run_dir = journal.run_dir("RUN1")
    log = LogWriter(run_dir / "run.log")
    log(Event("run-started", "RUN1", message="x"))
    log.close()
    journal.close()
    assert mode(state) == 0o700
    assert mode(state / "runs") == 0o700
    assert mode(run_dir) == 0o700
    assert mode(run_dir / "run.log") == 0o600
    files = [p for p in state.iterdir() if p.is_file()]
    assert state / "journal.sqlite" in files
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_a_journal_is_never_readable_by_others_even_for_a_moment(tmp_path: Path) -> None:
    """The file exists 0600 before SQLite opens it (no window at the umask's 0644)."""
    seen: list[int] = []
    real_connect = __import__("sqlite3").connect

    def connect(path: object, *args: object, **kw: object) -> object:
        seen.append(mode(Path(str(path))) if Path(str(path)).exists() else -1)
        return real_connect(path, *args, **kw)

    old = os.umask(0o022)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("stackstep.engine.journal.sqlite3.connect", connect)
            Journal(tmp_path / "state").close()
    finally:
        os.umask(old)
    assert seen == [0o600]


def test_a_loose_journal_left_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Journal(state).close()
    (state / "journal.sqlite").chmod(0o644)
    Journal(state).close()
    assert mode(state / "journal.sqlite") == 0o600
