"""Run local system commands for the lab, with clear errors."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from stackstep.lab.errors import LabError, NeedsRoot

TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "ssh-keygen": "openssh-client",
    "rpmbuild": "rpm",
    "createrepo_c": "createrepo-c",
    "dpkg-deb": "dpkg",
}


def process_alive(pid: int) -> bool:
    """Is ``pid`` running? A zombie is not: one of our own children that exited is reaped
    here (the lab's boot loops and repo server are children of the process that started
    them, and nobody else waits for them)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state != "Z":
        return True
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return False


def require_root() -> None:
    if os.geteuid() != 0:
        raise NeedsRoot()


def require_tools(names: Sequence[str]) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = " ".join(sorted({TOOLS.get(n, n) for n in missing}))
        raise LabError(
            f"missing tools: {', '.join(missing)}",
            hint=f"apt-get install {packages} (make test and make demo do it)",
        )


def run(
    argv: Sequence[str | Path],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = 600,
    log: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, input=input, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"`{' '.join(args)}` could not run: {exc}") from None
    if log is not None:
        with log.open("a") as out:
            out.write(f"$ {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise LabError(f"`{' '.join(args)}` exited with {proc.returncode}:\n{tail}")
    return proc
