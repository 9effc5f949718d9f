"""Lab hosts: systemd-nspawn containers booting real systemd on overlayfs copies of the
golden image. ``systemctl reboot`` inside makes nspawn exit 133 and the boot loop starts
it again, as a real host comes back.

Each host boots in a cgroup of its own (``stlab-NAME`` under the cgroup of the process that
ran ``lab up``): with ``--keep-unit`` nspawn puts the container in ``payload`` under the
cgroup it was started in, so hosts started from one cgroup would share one cgroup tree, and
their systemds remove each other's unit cgroups while booting (units failing with
219/CGROUP, the host "degraded")."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stackstep.lab import network
from stackstep.lab.errors import LabError
from stackstep.lab.system import process_alive, run

BOOT_TIMEOUT = 90.0

CGROUP_PREFIX = "stlab-"

# Every boot starts in a fresh cgroup (an old one may no longer accept processes on cgroup2
# once nspawn has enabled controllers in it).
LOOP = """
while :; do
  (
    while read -r cg; do
      [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
      mkdir -p "$cg" && echo $BASHPID > "$cg/cgroup.procs" \\
        || { echo "cannot boot $NAME in the cgroup $cg" >&2; exit 125; }
    done < "$DIR/cgroups"
    exec systemd-nspawn -q -D "$ROOT" --machine="$NAME" --hostname="$NAME" --register=no \\
      --keep-unit -b --network-namespace-path="/run/netns/$NS" --console=passive
  ) &
  echo $! > "$DIR/nspawn.pid"
  wait $!; rc=$?
  echo "$(date +%T) nspawn exit $rc" >> "$DIR/boots.log"
  [ $rc -eq 133 ] || break
done
rm -f "$DIR/nspawn.pid"
"""


@dataclass(frozen=True)
class LabHost:
    name: str
    index: int
    flavour: str  # "rpm" (dnf/yum) or "deb" (apt)
    roles: tuple[str, ...]

    @property
    def address(self) -> str:
        return network.host_ip(self.index)


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def cgroup_parents() -> list[Path]:
    """This process's cgroup in each hierarchy systemd keeps its units in: the cgroup2 one
    and, on a legacy or hybrid machine, the name=systemd one."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            mounts.setdefault("", Path(fields[1]))
        elif fields[2] == "cgroup" and "name=systemd" in fields[3].split(","):
            mounts.setdefault("name=systemd", Path(fields[1]))
    parents = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in mounts:
            parents.append(mounts.pop(controllers) / path.lstrip("/"))
    return parents


def remove_cgroup(top: Path) -> None:
    """Remove an empty cgroup tree, deepest first (cgroup directories go with rmdir)."""
    for sub, _, _ in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):  # not empty: something still runs in it
            Path(sub).rmdir()


class HostRunner:
    """Boot, stop and inspect one lab host whose files live under ``dir``."""

    def __init__(self, host: LabHost, dir: Path, golden: Path) -> None:
        self.host, self.dir, self.golden = host, dir, golden
        self.root = dir / "root"

    def leader(self) -> int | None:
        """PID of the container's systemd (PID 1 inside), or None when it is down."""
        nspawn = _pid(self.dir / "nspawn.pid")
        if nspawn is None:
            return None
        kids = _children(nspawn)
        return kids[0] if kids else None

    def running(self) -> bool:
        return _pid(self.dir / "loop.pid") is not None

    def mount(self) -> None:
        for sub in ("upper", "work", "root"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        if not os.path.ismount(self.root):
            layers = f"lowerdir={self.golden},upperdir={self.dir / 'upper'}"
            layers += f",workdir={self.dir / 'work'}"
            run(["mount", "-t", "overlay", "overlay", "-o", layers, self.root])

    def boot(self) -> None:
        if self.running():
            return
        cgroups = [p / f"{CGROUP_PREFIX}{self.host.name}" for p in cgroup_parents()]
        (self.dir / "cgroups").write_text("".join(f"{cg}\n" for cg in cgroups))
        env = {
            **os.environ,
            "ROOT": str(self.root),
            "NAME": self.host.name,
            "NS": network.host_ns(self.host.name),
            "DIR": str(self.dir),
        }
        with (self.dir / "nspawn.log").open("ab") as log:
            proc = subprocess.Popen(
                ["bash", "-c", LOOP],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (self.dir / "loop.pid").write_text(str(proc.pid))

    def exec(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        leader = self.leader()
        if leader is None:
            raise LabError(f"{self.host.name} is not running", hint="stackstep lab up")
        return run(["nsenter", "-t", str(leader), "-a", *argv], check=check)

    def wait_running(self, timeout: float = BOOT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        state = "down"
        while time.monotonic() < deadline:
            if not self.running():
                break  # the boot loop gave up: its log says why
            try:  # the leader can come and go while nspawn starts: not an answer yet
                proc = self.exec(["systemctl", "is-system-running"], check=False)
            except LabError:
                proc = None
            if proc is not None:
                state = proc.stdout.strip() or state
                if state in ("running", "degraded"):
                    return state
            time.sleep(0.1)
        log = (self.dir / "nspawn.log").read_text(errors="replace")[-2000:]
        raise LabError(f"{self.host.name} did not finish booting ({state}):\n{log}")

    def power_off(self, timeout: float = 60.0) -> None:
        """A clean poweroff (SIGTERM to nspawn = the container shuts down)."""
        nspawn = _pid(self.dir / "nspawn.pid")
        if nspawn is not None:
            os.kill(nspawn, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        loop = _pid(self.dir / "loop.pid")
        if loop is not None:  # did not stop in time: kill what is left
            os.killpg(loop, signal.SIGKILL)
        (self.dir / "loop.pid").unlink(missing_ok=True)
        self._remove_cgroups()

    def _remove_cgroups(self) -> None:
        listed = self.dir / "cgroups"
        if not listed.exists():
            return
        for line in listed.read_text().splitlines():
            if Path(line).name == f"{CGROUP_PREFIX}{self.host.name}":
                remove_cgroup(Path(line))
        listed.unlink()

    def unmount(self) -> None:
        if os.path.ismount(self.root):
            run(["umount", self.root])

    def boot_id(self) -> str:
        return self.exec(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()
