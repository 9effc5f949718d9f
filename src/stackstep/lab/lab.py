"""The lab as a whole: bring hosts up and down, write their inventory and known_hosts.

Directories (docs/lab.md): state in ``$STACKSTEP_LAB_DIR`` (default
``/var/lib/stackstep/lab``), the golden image cache in ``$STACKSTEP_LAB_CACHE`` (default
``/var/cache/stackstep/lab``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stackstep.lab import network
from stackstep.lab.errors import LabError, LabInputError
from stackstep.lab.golden import Recipe, ensure_golden, golden_path, prune_golden
from stackstep.lab.hosts import HostRunner, LabHost
from stackstep.lab.repos import BASE_PACKAGE, LabRepos
from stackstep.lab.system import process_alive, require_root, require_tools, run

SEED_LAYOUT = "controller,network,compute1,compute2,storage"
REPO_PORT = 8080


def lab_dir() -> Path:
    return Path(os.environ.get("STACKSTEP_LAB_DIR", "/var/lib/stackstep/lab"))


def cache_dir() -> Path:
    return Path(os.environ.get("STACKSTEP_LAB_CACHE", "/var/cache/stackstep/lab"))


def parse_hosts(spec: str) -> list[LabHost]:
    """``controller,compute1:deb`` -> hosts; roles follow the names (docs/lab.md)."""
    hosts: list[LabHost] = []
    for index, item in enumerate(s.strip() for s in spec.split(",") if s.strip()):
        name, _, flavour = item.partition(":")
        if flavour not in ("", "rpm", "deb"):
            raise LabInputError(f"{item!r}: the flavour after ':' is rpm or deb")
        if not name.replace("-", "").isalnum() or len(name) > 20:
            raise LabInputError(f"{name!r} is not a usable host name (letters, digits, '-')")
        role = next(
            (r for r in ("controller", "network", "compute", "storage") if name.startswith(r)), None
        )
        hosts.append(LabHost(name, index + 1, flavour or "rpm", (role,) if role else ()))
    if not hosts or len({h.name for h in hosts}) != len(hosts):
        raise LabInputError(f"{spec!r}: give distinct host names, e.g. {SEED_LAYOUT}")
    return hosts


@dataclass(frozen=True)
class LabState:
    hosts: tuple[LabHost, ...]
    golden: str

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"golden": self.golden, "hosts": [asdict(h) for h in self.hosts]})
        )

    @staticmethod
    def load(path: Path) -> LabState | None:
        if not path.exists():
            return None
        return LabState.from_json(json.loads(path.read_text()))

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> LabState:
        """What :meth:`save` wrote: the golden image and the hosts, each field typed."""
        hosts = tuple(
            LabHost(str(h["name"]), int(h["index"]), str(h["flavour"]), tuple(map(str, h["roles"])))
            for h in doc["hosts"]
        )
        return LabState(hosts, str(doc["golden"]))


class Lab:
    def __init__(self, root: Path | None = None, cache: Path | None = None) -> None:
        self.root = root or lab_dir()
        self.cache = cache or cache_dir()
        self.ssh_dir = self.root / "ssh"
        self.client_key = self.ssh_dir / "client_ed25519"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.inventory = self.root / "inventory.yaml"
        self.repo_root = self.root / "repo"
        self.repos = self.repo("base")

    def repo(self, name: str) -> LabRepos:
        """A named repository served at ``repo_url(name)`` (base, grizzly, havana, ...)."""
        return LabRepos(self.repo_root / name)

    @staticmethod
    def repo_url(name: str) -> str:
        return f"http://{network.ROUTER_IP}:{REPO_PORT}/{name}"

    @property
    def state(self) -> LabState | None:
        return LabState.load(self.root / "lab.json")

    def runner(self, host: LabHost, golden: Path) -> HostRunner:
        return HostRunner(host, self.root / "hosts" / host.name, golden)

    def up(self, spec: str = SEED_LAYOUT) -> dict[str, float]:
        """Build/reuse the golden image, start the network, repos and hosts. Timings back."""
        require_root()
        require_tools(["systemd-nspawn", "ip", "nsenter", "ssh-keygen"])
        started = time.monotonic()
        hosts = parse_hosts(spec)
        current = self.state
        if current is not None and any(
            self.runner(h, Path(current.golden)).running() for h in current.hosts
        ):
            raise LabError("the lab is already up", hint="stackstep lab down first")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        golden, built = ensure_golden(self.cache, Recipe(), self.root / "golden.log")
        prune_golden(self.cache, golden)
        LabState(tuple(hosts), str(golden)).save(self.root / "lab.json")
        self._client_key()
        network.router_up()
        self._repos_up()
        runners = [self.runner(h, golden) for h in hosts]
        for runner in runners:
            runner.mount()
            self._identity(runner, hosts)
            network.host_link_up(runner.host.name, runner.host.index)
            runner.boot()
        for runner in runners:
            runner.wait_running()
        self._write_access(runners)
        return {"golden_build_s": built, "total_s": time.monotonic() - started}

    def _client_key(self) -> None:
        self.ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.client_key.exists():
            run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "stackstep-lab",
                    "-f",
                    self.client_key,
                ]
            )

    def _identity(self, runner: HostRunner, hosts: list[LabHost]) -> None:
        root, host = runner.root, runner.host
        (root / "etc/hostname").write_text(host.name + "\n")
        lines = [
            "127.0.0.1 localhost",
            *(f"{h.address} {h.name}" for h in hosts),
            f"{network.ROUTER_IP} labrepo",
        ]
        (root / "etc/hosts").write_text("\n".join(lines) + "\n")
        key = root / "etc/ssh/ssh_host_ed25519_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", key])
        ssh = root / "root/.ssh"
        ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        (ssh / "authorized_keys").chmod(0o600)
        base = self.repo_url("base")
        if host.flavour == "rpm":
            repos = root / "etc/yum.repos.d"
            repos.mkdir(parents=True, exist_ok=True)
            (repos / "lab.repo").write_text(self.repos.rpm_repo_file(base))
        else:
            (root / "etc/apt/sources.list").write_text(self.repos.apt_source_line(base) + "\n")
            for extra in (root / "etc/apt/sources.list.d").glob("*"):
                extra.unlink()

    def _repos_up(self) -> None:
        if not (self.repos.rpm_dir / "repodata").exists():
            self.repos.release([BASE_PACKAGE])
        pid_file = self.root / "repo.pid"
        if _alive(pid_file):
            return
        serve = [
            "python3",
            "-m",
            "http.server",
            "--bind",
            network.ROUTER_IP,
            str(REPO_PORT),
            "--directory",
            str(self.repo_root),
        ]
        argv = ["ip", "netns", "exec", network.ROUTER_NS, *serve]
        with (self.root / "repo.log").open("ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        pid_file.write_text(str(proc.pid))

    def _write_access(self, runners: list[HostRunner]) -> None:
        lines = []
        for runner in runners:
            pub = (runner.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{runner.host.address} {pub[0]} {pub[1]}")
        self.known_hosts.write_text("\n".join(lines) + "\n")
        inv = [
            "# written by `stackstep lab up`",
            "cloud: lab",
            "defaults:",
            "  user: root",
            f"  identity_file: {self.client_key}",
            f"  known_hosts: {self.known_hosts}",
            f"  netns: {network.ROUTER_NS}",
            "  init: systemd",
            "hosts:",
        ]
        for runner in runners:
            h = runner.host
            pm = "dnf" if h.flavour == "rpm" else "apt"
            inv += [
                f"  {h.name}:",
                f"    address: {h.address}",
                f"    package_manager: {pm}",
                f"    roles: [{', '.join(h.roles)}]",
            ]
        self.inventory.write_text("\n".join(inv) + "\n")

    def status(self) -> list[dict[str, object]]:
        state = self.state
        if state is None:
            return []
        out: list[dict[str, object]] = []
        for host in state.hosts:
            runner = self.runner(host, Path(state.golden))
            systemd = "down"
            if runner.leader() is not None:
                systemd = runner.exec(
                    ["systemctl", "is-system-running"], check=False
                ).stdout.strip()
            out.append(
                {
                    "name": host.name,
                    "address": host.address,
                    "flavour": host.flavour,
                    "roles": list(host.roles),
                    "state": systemd,
                }
            )
        return out

    def host(self, name: str) -> HostRunner:
        state = self.state
        found = next((h for h in state.hosts if h.name == name), None) if state else None
        if state is None or found is None:
            known = ", ".join(h.name for h in state.hosts) if state else "none (lab is down)"
            raise LabError(f"no lab host {name!r}", hint=f"hosts: {known}")
        return self.runner(found, Path(state.golden))

    def down(self) -> None:
        require_root()
        state = self.state
        if state is not None:
            runners = [self.runner(h, Path(state.golden)) for h in state.hosts]
            for runner in runners:
                nspawn = runner.dir / "nspawn.pid"
                if nspawn.exists():
                    _signal(nspawn, signal.SIGTERM)
            for runner in runners:
                runner.power_off()
                runner.unmount()
                network.host_link_down(runner.host.name)
        _signal(self.root / "repo.pid", signal.SIGTERM, group=True)
        (self.root / "repo.pid").unlink(missing_ok=True)
        network.router_down()

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    def golden_cached(self) -> bool:
        return (golden_path(self.cache) / ".complete").exists()


def _alive(pid_file: Path) -> bool:
    try:
        return process_alive(int(pid_file.read_text()))
    except (OSError, ValueError):
        return False


def _signal(pid_file: Path, sig: int, group: bool = False) -> None:
    try:
        pid = int(pid_file.read_text())
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (OSError, ValueError):
        return
