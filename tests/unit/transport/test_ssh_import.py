"""Importing the SSH transport prints nothing: cryptography 51 deprecates DSA, which
asyncssh names when it is imported and when it reads keys; that warning is asyncssh's,
and it would otherwise reach the terminal (and the stderr of `--json` commands) of every
stackstep command that connects."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_ssh_transport_warns_nothing_even_when_warnings_are_errors():
    code = "import stackstep.transport.ssh, asyncssh.crypto.dsa"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
