"""Start-up and discovery: what an upgrade spends before its first step.

Starts a throwaway OpenSSH server on 127.0.0.1 (as tests/integration does; needs root and
/usr/sbin/sshd), builds a 5-host fake cloud reached over it (tests/fakecloud.py), and
times the real CLI as a subprocess, best of several runs, wall and CPU:

- ``stackstep --help`` (start-up alone), ``stackstep upgrade --help`` (with its imports),
- ``stackstep plan`` (inventory only: start-up, loading, planning),
- ``stackstep plan --discover``: start-up, SSH connections, discovery of every host and
  planning, which is what ``stackstep upgrade`` does before its first step.

    .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
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


def best_of(runs: int, argv: list[str]) -> tuple[float, float]:
    """The fastest run's wall time and CPU time (user + system) in seconds."""
    best: tuple[float, float] | None = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if best is None or wall < best[0]:
            best = (wall, cpu)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="wait for Enter before cleaning up")
    runs = parser.parse_args().runs
    if shutil.which("ssh-keygen") is None or not Path("/usr/sbin/sshd").exists():
        sys.exit("needs OpenSSH (ssh-keygen, /usr/sbin/sshd)")
    base = Path(tempfile.mkdtemp(prefix="stackstep-bench-"))
    base.chmod(0o755)
    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), fakecloud.OkHandler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    sshd, port, key, known = start_sshd(base)
    try:
        fakecloud.HOSTS = HOSTS
        fakecloud.UNITS.update({name: fakecloud.UNITS["cmp1"] for name in HOSTS if name != "ctl"})
        connection = {"transport": "ssh", "port": port, "user": "root", "identity_file": key}
        (base / "cloud").mkdir()
        cloud = fakecloud.build_fake_cloud(base / "cloud", api.server_address[1], connection)
        plan = [str(STACKSTEP), "plan", "-i", str(cloud.inventory), "--catalog", str(cloud.catalog)]
        rows = [
            ("stackstep --help", [str(STACKSTEP), "--help"]),
            ("stackstep upgrade --help (its imports)", [str(STACKSTEP), "upgrade", "--help"]),
            (f"stackstep plan ({len(HOSTS)} hosts, inventory only)", plan),
            (
                f"stackstep plan --discover ({len(HOSTS)} hosts over SSH)",
                [*plan, "--discover", "--known-hosts", str(known)],
            ),
        ]
        print(f"best of {runs} runs; wall (CPU) seconds")
        for title, argv in rows:
            wall, cpu = best_of(runs, argv)
            print(f"  {title:<45} {wall:6.3f} s  ({cpu:.3f} s CPU)")
        if "--keep" in sys.argv:
            print(base)
            input()
    finally:
        sshd.terminate()
        sshd.wait(timeout=5)
        api.shutdown()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
