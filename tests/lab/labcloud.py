"""Helpers of the lab cloud tests: a shell on a lab host, stackstep as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stackstep.lab.lab import Lab


def sh(lab: Lab, host: str, script: str) -> subprocess.CompletedProcess[str]:
    return lab.host(host).exec(["sh", "-c", script], check=False)


def stackstep(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``stackstep ARGS`` with its journal in ``state``, plain output."""
    env = {**os.environ, "STACKSTEP_PLAIN": "1", "STACKSTEP_STATE_DIR": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "stackstep", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=timeout,
    )
