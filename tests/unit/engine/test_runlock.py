"""The run lock between real processes: a child claims a run through the same code the
CLI uses and holds it; this process is refused (RunBusy: run, pid, command, how to go
on), and so is a new run of the same cloud; after `kill -9` of the child the kernel has
released the lock and the run is free again. No flock is mocked."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.engine.journal import Journal
from stackstep.engine.runlock import claim, holder, live_run
from stackstep.errors import RunBusy
from stackstep.model.catalog import Catalog
from stackstep.model.states import RunStatus
from stackstep.report.summary import status_json, status_lines
from stackstep_testing import EXAMPLES, plan_from_path

RUN = "20261206-010203-abcd"
OTHER = "20261206-020304-ef01"


def resume(run_id: str) -> str:
    return f"stackstep resume {run_id}"


HOLD = """
import sys, time
from pathlib import Path
from stackstep.engine.journal import Journal
from stackstep.engine.runlock import claim
lock = claim(Journal(Path(sys.argv[1])), sys.argv[2], "fake", "resume", str)
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "state"), RUN],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_run_held_by_a_live_process_is_refused_until_it_is_killed(
    tmp_path: Path, child: subprocess.Popen[str]
) -> None:
    journal = Journal(tmp_path / "state")
    found = holder(journal.state_dir, RUN)
    assert found is not None
    assert (found.pid, found.command, found.cloud) == (child.pid, "resume", "fake")

    with pytest.raises(RunBusy) as busy:
        claim(journal, RUN, "fake", "restore", resume)
    text = busy.value.render()
    assert f"run {RUN} is being carried out by `stackstep resume` (pid {child.pid})" in text
    assert f"wait for it, or stop it with Ctrl-C / kill {child.pid}" in text
    assert f"then `stackstep resume {RUN}`" in text
    assert busy.value.exit_code == 4

    with pytest.raises(RunBusy) as same_cloud:
        claim(journal, OTHER, "fake", "upgrade", resume)
    assert f"a run of cloud fake is live: run {RUN}" in same_cloud.value.render()
    assert f"(pid {child.pid})" in same_cloud.value.render()
    assert f"then `stackstep resume {RUN}`" in same_cloud.value.render()
    assert not (journal.state_dir / "runs" / OTHER).exists()  # a refused claim leaves nothing
    assert live_run(journal.state_dir, "fake") == found
    assert live_run(journal.state_dir, "elsewhere") is None
    with claim(journal, OTHER, "elsewhere", "upgrade", resume) as other:  # another cloud: free
        assert holder(journal.state_dir, OTHER) is not None
    assert other.released and holder(journal.state_dir, OTHER) is None

    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert holder(journal.state_dir, RUN) is None
    assert live_run(journal.state_dir, "fake") is None
    with claim(journal, RUN, "fake", "resume", resume) as mine:
        found = holder(journal.state_dir, RUN)
        assert found is not None and found.pid == os.getpid()
    assert mine.released and holder(journal.state_dir, RUN) is None


def test_the_lock_file_is_private(tmp_path: Path, child: subprocess.Popen[str]) -> None:
    lock = tmp_path / "state" / "runs" / RUN / "lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    for folder in (lock.parent, lock.parent.parent, lock.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_status_tells_a_live_run_from_a_dead_one_and_from_one_it_cannot_ask(
    tmp_path: Path, catalog: Catalog
) -> None:
    journal = Journal(tmp_path / "state")
    plan = plan_from_path(EXAMPLES / "all-in-one.yaml", catalog)
    run_id = journal.new_run(plan, {}, {}, "all-in-one.yaml", "", "")  # no lock: as before
    resume = f"stackstep resume {run_id}"

    def status() -> tuple[str, dict[str, object]]:
        record = journal.run(run_id)
        text = "\n".join(line.text for line in status_lines(journal, record, resume))
        return text, status_json(journal, record, resume)

    text, body = status()
    assert f"journalled running by pid {os.getpid()} of a stackstep without run locks" in text
    assert (body["live"], body["gone"], body["holder"]) == (False, None, None)
    assert f"to go on: {resume}" in text

    with claim(journal, run_id, plan.cloud, "resume", str):
        text, body = status()
        assert f"running now: `stackstep resume` (pid {os.getpid()})" in text
        assert f"kill {os.getpid()}" in text and "to go on" not in text
        assert (body["live"], body["gone"]) == (True, False)
        assert body["holder"] == {
            "pid": os.getpid(),
            "command": "resume",
            "since": pytest.approx(time.time(), abs=60),
        }

    text, body = status()
    assert f"!! interrupted: its process (pid {os.getpid()}) is gone" in text
    assert (body["live"], body["gone"], body["pid"]) == (False, True, os.getpid())

    journal.set_status(run_id, RunStatus.FAILED, "a step failed")
    text, body = status()
    assert "interrupted: its process" not in text and "running now" not in text
    assert (body["live"], body["gone"]) == (False, False)
