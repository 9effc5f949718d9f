"""Start-up and discovery: what an upgrade spends before its first step.

Starts a throwaway OpenSSH server on 127.0.0.1 (as tests/integration does; needs root and
/usr/sbin/sshd), builds a 5-host fake cloud reached over it (tests/fakecloud.py), and
times the real CLI as a subprocess, best of several runs, wall and CPU:

- ``stackstep --help`` (start-up alone), ``stackstep upgrade --help`` (with its imports),
- ``stackstep plan`` (inventory only: start-up, loading, planning),
- ``stackstep plan --discover``: start-up, SSH connections, discovery of every host and
  planning,
- ``stackstep upgrade --yes``: from launch to the first step's ``started`` in the
  journal (a fresh fake cloud and state directory each run), which is what an upgrade
  spends before its first step; wall time only.

Before timing, it byte-compiles (``python -m compileall``) every tree it times, as pip
does for an installed stackstep: with PYTHONDONTWRITEBYTECODE set (as in this sandbox)
there would be no .pyc and every start would recompile every module.

``--old SRC`` times another tree too (its ``src``, put first on PYTHONPATH), runs
alternated with this one, e.g. the code before a change, and prints this tree's time over
the other's (best against best, median against median)::

    git archive 373fabf src | tar -x -C /tmp/old
    .venv/bin/python bench/startup.py [--runs N] [--old /tmp/old/src]

``--lab`` times the upgrade's launch to first step on the lab instead (root, the lab
down): before every run a fresh ``stackstep lab deploy --scenario havana`` (5 hosts, each
its own container and sshd, sharing this machine's cores), then ``stackstep upgrade
--yes`` of it, which runs to its end; the deploy is this tree's whatever the side.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import math
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fakecloud  # noqa: E402  (tests/fakecloud.py)

STACKSTEP = ROOT / ".venv" / "bin" / "stackstep"
HOSTS = {
    "ctl": ["controller"],
    **{f"cmp{i}": ["compute"] for i in range(1, 5)},
}


def _integration() -> ModuleType:
    """tests/integration/conftest.py: its sshd config and key helpers."""
    path = ROOT / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("integration_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def start_sshd(base: Path) -> tuple[subprocess.Popen[bytes], int, Path, Path]:
    """sshd on a free port of 127.0.0.1: (process, port, client key, known_hosts)."""
    it = _integration()
    host_key = it._keygen(base / "host_ed25519", "bench-host")
    it._keygen(base / "client_ed25519", "bench-client")
    (base / "authorized_keys").write_text((base / "client_ed25519.pub").read_text())
    port = it._free_port()
    (base / "sshd_config").write_text(it._config(base, port))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [it.SSHD, "-D", "-e", "-f", str(base / "sshd_config")], stdout=out, stderr=out
        )
    it._wait_for_banner(proc, port, log)
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_key.split()[:2])}\n")
    return proc, port, base / "client_ed25519", known


Timer = Callable[[dict[str, str]], tuple[float, float]]


def compile_tree(src: Path) -> None:
    """Byte-compile ``src`` as pip does on install (PYTHONDONTWRITEBYTECODE or not)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)


def command(argv: list[str]) -> Timer:
    """Wall and CPU time (user + system) of ``argv`` run to its end."""

    def timed(env: dict[str, str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    return timed


def first_step(argv: list[str], env: dict[str, str], state: Path) -> float:
    """Run ``argv`` (an upgrade with ``--state-dir state``) to its end: seconds from its
    launch to its first step's ``started`` in the journal."""
    launched = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    with sqlite3.connect(state / "journal.sqlite") as db:
        (first,) = db.execute("SELECT min(started) FROM steps").fetchone()
    return float(first) - launched


def upgrade_start(make_cloud: Callable[[], fakecloud.FakeCloud], known: Path) -> Timer:
    """From launch to the first step's ``started`` in the journal (CPU: nan)."""

    def timed(env: dict[str, str]) -> tuple[float, float]:
        cloud = make_cloud()
        argv = [str(STACKSTEP), "upgrade", *cloud.args("--yes", "--known-hosts", str(known))]
        return first_step(argv, env, cloud.state), float("nan")

    return timed


def timings(runs: int, timers: dict[str, Timer], sides: dict[str, dict[str, str]]) -> str:
    """Each side's runs, sides alternated run by run: per side "best (CPU) median"
    columns, then this tree's best and median over the other side's when there are two."""
    seen: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    for _ in range(runs):
        for side, env in sides.items():
            seen[side].append(timers[side](env))
    line = ""
    for samples in seen.values():
        wall, cpu = min(samples)
        used = "(wall only)   " if math.isnan(cpu) else f"({cpu:.3f} s CPU)"
        line += f"  {wall:6.3f} s {used} median {statistics.median(w for w, _ in samples):6.3f} s"
    if len(seen) == 2:
        this, other = seen.values()
        best = min(this)[0] / min(other)[0]
        median = statistics.median(w for w, _ in this) / statistics.median(w for w, _ in other)
        line += f"  this/other: best {best:.2f}x, median {median:.2f}x"
    return line


def lab_upgrade_start(base: Path, env: dict[str, str]) -> Timer:
    """On a freshly deployed havana lab (deployed with this tree, ``env``), from the
    upgrade's launch to its first step's ``started`` in the journal (CPU: nan)."""
    runs = iter(range(1_000_000))

    def timed(side: dict[str, str]) -> tuple[float, float]:
        deploy = [str(STACKSTEP), "lab", "deploy", "--scenario", "havana"]
        done = subprocess.run(deploy, capture_output=True, text=True, check=False, env=env)
        found = re.search(r"inventory: (\S+)", done.stdout + done.stderr)
        if done.returncode != 0 or found is None:
            sys.exit(f"{' '.join(deploy)} exited {done.returncode}:\n{done.stderr}")
        state = base / f"state{next(runs)}"
        argv = [str(STACKSTEP), "upgrade", "-i", found[1], "--yes", "--state-dir", str(state)]
        return first_step(argv, side, state), float("nan")

    return timed


def lab_main(runs: int, sides: dict[str, dict[str, str]]) -> None:
    status = subprocess.run(
        [str(STACKSTEP), "lab", "status"], capture_output=True, text=True, check=False
    )
    if "the lab is down" not in status.stdout + status.stderr:
        sys.exit("--lab needs the lab down (stackstep lab destroy): each run deploys it afresh")
    base = Path(tempfile.mkdtemp(prefix="stackstep-bench-lab-"))
    try:
        timer = lab_upgrade_start(base, sides["this tree"])
        print(f"{runs} runs per side, compiled; columns: {', '.join(sides)}")
        line = timings(runs, dict.fromkeys(sides, timer), sides)
        print(f"  {'upgrade of the havana lab, launch to first step':<52}{line}", flush=True)
    finally:
        subprocess.run([str(STACKSTEP), "lab", "destroy"], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", type=Path, help="another tree's src to time too")
    parser.add_argument("--keep", action="store_true", help="wait for Enter before cleaning up")
    parser.add_argument("--lab", action="store_true", help="time the upgrade on the lab")
    args = parser.parse_args()
    if shutil.which("ssh-keygen") is None or not Path("/usr/sbin/sshd").exists():
        sys.exit("needs OpenSSH (ssh-keygen, /usr/sbin/sshd)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKSTEP_")}
    env["STACKSTEP_PLAIN"] = "1"
    sides = {"this tree": {**env, "PYTHONPATH": ""}}
    compile_tree(ROOT / "src")
    if args.old:
        compile_tree(args.old)
        sides[str(args.old)] = {**env, "PYTHONPATH": str(args.old.resolve())}
    if args.lab:
        lab_main(args.runs, sides)
        return
    base = Path(tempfile.mkdtemp(prefix="stackstep-bench-"))
    base.chmod(0o755)
    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), fakecloud.OkHandler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    sshd, port, key, known = start_sshd(base)
    try:
        fakecloud.HOSTS = HOSTS
        fakecloud.UNITS.update({name: fakecloud.UNITS["cmp1"] for name in HOSTS if name != "ctl"})
        connection = {"transport": "ssh", "port": port, "user": "root", "identity_file": key}
        clouds = iter(range(1_000_000))

        def make_cloud() -> fakecloud.FakeCloud:
            where = base / f"cloud{next(clouds)}"
            where.mkdir()
            return fakecloud.build_fake_cloud(where, api.server_address[1], connection)

        cloud = make_cloud()
        plan = [str(STACKSTEP), "plan", "-i", str(cloud.inventory), "--catalog", str(cloud.catalog)]
        discover = [*plan, "--discover", "--known-hosts", str(known)]
        rows: list[tuple[str, Timer]] = [
            ("stackstep --help", command([str(STACKSTEP), "--help"])),
            (
                "stackstep upgrade --help (its imports)",
                command([str(STACKSTEP), "upgrade", "--help"]),
            ),
            (f"stackstep plan ({len(HOSTS)} hosts, inventory only)", command(plan)),
            (f"stackstep plan --discover ({len(HOSTS)} hosts over SSH)", command(discover)),
            (
                f"stackstep upgrade, launch to first step ({len(HOSTS)} hosts)",
                upgrade_start(make_cloud, known),
            ),
        ]
        print(
            f"{args.runs} runs per side, compiled; best wall (CPU) and median seconds;"
            f" columns: {', '.join(sides)}"
        )
        for title, timer in rows:
            line = timings(args.runs, dict.fromkeys(sides, timer), sides)
            print(f"  {title:<52}{line}", flush=True)
        if args.keep:
            print(base)
            input()
    finally:
        sshd.terminate()
        sshd.wait(timeout=5)
        api.shutdown()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
