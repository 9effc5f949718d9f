"""Record tests/data/outputs/loaded/: what drivers/loaded.py's commands print on this
machine about a real Python process, before and after an "upgrade" replaced what it
loaded. Run from the repository root: PYTHONPATH=src python3 THIS.

A scratch tree under /tmp stands in for a package: a shared library (a copy of libz)
that the process maps with ctypes and a module under lib/python3.X/site-packages that
it imports; the process also runs a child (`sleep`). The upgrade replaces both files as
rpm and dpkg do (write aside, rename over: a new inode, a new change time). A stand-in
`rpm -ql` lists the scratch package's files; the real packages come from dpkg.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stackstep.drivers import loaded

OUT = Path("tests/data/outputs/loaded")
SERVICE = """
import ctypes, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import fakemod
ctypes.CDLL(sys.argv[2])
child = subprocess.Popen(["sleep", "600"])
time.sleep(600)
"""


def run(command, env=None) -> str:
    done = subprocess.run(command.reveal(), capture_output=True, text=True, env=env, check=True)
    return done.stdout


def replace(path: Path, text: bytes) -> None:
    aside = path.with_name(path.name + ".new")
    aside.write_bytes(text)
    aside.rename(path)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="stackstep-loaded-", dir="/tmp"))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = root / "lib" / version / "site-packages"
    (site / "fakemod").mkdir(parents=True)
    module = site / "fakemod" / "__init__.py"
    module.write_text("VALUE = 1\n")
    (site / "fakemod" / "VERSION").write_text("1\n")
    lib = root / "lib64" / "libfakez.so.1"
    lib.parent.mkdir()
    libz = next(Path("/usr/lib").rglob("libz.so.1"))
    shutil.copy(libz, lib)
    (root / "svc.py").write_text(SERVICE)
    (root / "bin").mkdir()
    files = "\n".join(str(p) for p in (site / "fakemod", module, site / "fakemod" / "VERSION"))
    (root / "bin" / "rpm").write_text(
        f'#!/bin/sh\n[ "$3" = python-fakemod ] && printf "%s\\n" "{files}" && exit 0\n'
        'echo "package $3 is not installed"; exit 1\n'
    )
    (root / "bin" / "rpm").chmod(0o755)
    time.sleep(1.1)  # every file older than the process, as after an install
    proc = subprocess.Popen([sys.executable, str(root / "svc.py"), str(site), str(lib)])
    other = subprocess.Popen(["sleep", "600"])
    try:
        time.sleep(1.5)
        pids = [proc.pid, other.pid]
        OUT.mkdir(exist_ok=True)
        (OUT / "processes-before.txt").write_text(run(loaded.processes_command(pids)))
        time.sleep(1.1)
        replace(lib, lib.read_bytes())
        replace(module, b"VALUE = 2\n")
        (OUT / "processes-after.txt").write_text(run(loaded.processes_command(pids)))
        env = dict(os.environ, PATH=f"{root / 'bin'}:{os.environ['PATH']}")
        (OUT / "modules-scratch.txt").write_text(
            run(loaded.modules_command(["python-fakemod", "no-such-package"]), env)
        )
        real = ["libpython3.11-minimal", "python3-blinker", "python3", "no-such-package"]
        (OUT / "modules-dpkg.txt").write_text(run(loaded.modules_command(real)))
        print(f"pids {pids}, scratch {root}")
    finally:
        proc.kill()
        other.kill()
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
