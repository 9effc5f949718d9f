"""Lab hosts: systemd-nspawn containers booting real systemd on overlayfs copies of the
golden image. ``systemctl reboot`` inside makes nspawn exit 133 and the boot loop starts
it again, as a real host comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stackstep.lab import network
from stackstep.lab.errors import LabError
from stackstep.lab.system import run

BOOT_TIMEOUT = 90.0

LOOP = """
while :; do
  systemd-nspawn -q -D "$ROOT" --machine="$NAME" --hostname="$NAME" --register=no --keep-unit \\
    -b --network-namespace-path="/run/netns/$NS" --console=passive &
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
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


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
            if self.leader() is not None:
                proc = self.exec(["systemctl", "is-system-running"], check=False)
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

    def unmount(self) -> None:
        if os.path.ismount(self.root):
            run(["umount", self.root])

    def boot_id(self) -> str:
        return self.exec(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()
