#!/usr/bin/env python3
"""systemctl, service, yum, rpm, the *-manage tools, find... on a fake host of the
fake-tools tier: every tool name on the host's PATH links here, and this runs the one
simulated host (tests/hostsim.py) over the state files under ``$FAKE_ROOT``; what the
model does not simulate (other files' ``cat``, ``test``, ``df`` without ``df.txt``) is
the real program. The transport, executor and journal under test are all real.

One more knob than the model's: ``$FAKE_ROOT/pause`` (a substring): the first matching
call applies its effect, writes ``$FAKE_ROOT/paused`` and waits for
``$FAKE_ROOT/release``, so the test can kill or interrupt stackstep mid-step.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hostsim import FileStore, HostModel, RealSystem

root = Path(os.environ["FAKE_ROOT"])
argv = [Path(sys.argv[0]).name, *sys.argv[1:]]
(root / "units").mkdir(parents=True, exist_ok=True)
host = HostModel(FileStore(root), RealSystem())
line = " ".join(argv)
failing = host.failing(line)  # a failing call prints its error and never pauses
answer = host.run(argv)
sys.stdout.write(answer.stdout)
sys.stderr.write(answer.stderr)
sys.stdout.flush()
pause = root / "pause"
if not failing and pause.exists() and pause.read_text().strip() in line:
    pause.unlink()
    (root / "paused").write_text(line)
    deadline = time.monotonic() + 60
    while not (root / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
sys.exit(answer.status)
