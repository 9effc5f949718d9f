"""A fake cloud for the fake-tools tier (tests/e2e, tests/integration).

Hosts have their own PATH of stand-in tools (e2e/fakebin.py, running the simulated
host of tests/hostsim.py) and state directory, and are reached with `transport: local`
or over real SSH; API probes hit a real HTTP server on 127.0.0.1; stackstep itself runs
as a real subprocess."""

from __future__ import annotations

import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "e2e"
TOOLS = [
    "systemctl",
    "service",
    "yum",
    "runuser",
    "keystone-manage",
    "glance-manage",
    "nova-manage",
    "find",
    "uname",
    "rpm",
    "needs-restarting",
    "df",
]
# what a rebooting host also needs simulated (the boot id, its name, nova's service list)
REBOOT_TOOLS = ("cat", "hostname", "nova", "openstack", "shutdown")
HOSTS = {"ctl": ["controller"], "cmp1": ["compute"], "cmp2": ["compute"]}
UNITS = {
    "ctl": [
        "openstack-keystone",
        "openstack-glance-api",
        "openstack-nova-conductor",
        "openstack-nova-api",
        "sshd",
    ],
    "cmp1": ["openstack-nova-compute", "sshd"],
    "cmp2": ["openstack-nova-compute", "sshd"],
}
KERNELS = "kernel-5.14.0-70.el9.x86_64   Mon 01 Jan 2024 10:00:00 AM UTC\n"

SERIES = """
name = "rdo-2013"
title = "mini Grizzly/Havana for engine tests"
releases = ["grizzly", "havana"]
[repo]
rpm = ["yum", "install", "-y", "rdo-release-{name}"]
deb = ["true"]

[[service]]
name = "keystone"
packages = { rpm = ["*keystone*"], deb = ["keystone"] }
migrate_on = "keystone"
probe = { port = PORT, path = "/v3", expect = [200] }
config_dirs = ["/etc/keystone"]
[[service.component]]
name = "keystone"
units = { rpm = ["openstack-keystone"], deb = ["keystone"] }
[[service.migrate]]
name = "token-flush"
argv = ["keystone-manage", "token_flush"]
user = "keystone"
[[service.migrate]]
name = "db-sync"
argv = ["keystone-manage", "db_sync"]
user = "keystone"

[[service]]
name = "glance"
after = ["keystone"]
packages = { rpm = ["*glance*"], deb = ["glance"] }
migrate_on = "api"
probe = { port = PORT, path = "/", expect = [200] }
[[service.component]]
name = "api"
units = { rpm = ["openstack-glance-api"], deb = ["glance-api"] }
[[service.migrate]]
name = "db-sync"
argv = ["glance-manage", "db_sync"]
user = "glance"

[[service]]
name = "nova"
after = ["keystone", "glance"]
packages = { rpm = ["*nova*"], deb = ["nova"] }
migrate_on = "api"
probe = { port = PORT, path = "/", expect = [200] }
[[service.component]]
name = "conductor"
start_order = 10
units = { rpm = ["openstack-nova-conductor"], deb = ["nova-conductor"] }
[[service.component]]
name = "compute"
start_order = 60
restart_after_final_upgrade = true
units = { rpm = ["openstack-nova-compute"], deb = ["nova-compute"] }
[[service.component]]
name = "api"
start_order = 90
units = { rpm = ["openstack-nova-api"], deb = ["nova-api"] }
[[service.migrate]]
name = "db-sync"
argv = ["nova-manage", "db", "sync"]
user = "nova"
"""


class OkHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"version": "fake"}')

    def log_message(self, *args: object) -> None:
        return


@dataclass
class FakeCloud:
    root: Path
    inventory: Path
    catalog: Path
    state: Path

    def host(self, name: str) -> Path:
        return self.root / name

    def link(self, host: str, *tools: str) -> None:
        """Put more simulated tools on ``host``'s PATH."""
        for tool in tools:
            (self.host(host) / "bin" / tool).symlink_to(HERE / "fakebin.py")

    def calls(self, host: str) -> list[str]:
        log = self.host(host) / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def changes(self, host: str) -> list[str]:
        """Calls that change something (discovery and checks only read)."""
        reads = (
            "systemctl list-unit-files",
            "systemctl list-units",
            "systemctl show",
            "systemctl is-active",
            "uname",
            "rpm -q",
            "df",
            "find",
        )
        return [c for c in self.calls(host) if not c.startswith(reads)]

    def count(self, host: str, text: str) -> int:
        return sum(1 for line in self.calls(host) if line == text)

    def args(self, *extra: str) -> list[str]:
        return [
            "-i",
            str(self.inventory),
            "--catalog",
            str(self.catalog),
            "--state-dir",
            str(self.state),
            "--no-backup",
            *extra,
        ]

    def stackstep(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stackstep", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "stackstep", *args],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,
        )

    def wait_paused(self, host: str, proc: subprocess.Popen[str], timeout: float = 30) -> str:
        marker = self.host(host) / "paused"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"never paused on {host}; stackstep said:\n{out}")
            time.sleep(0.05)
        return marker.read_text()

    def kill(self, proc: subprocess.Popen[str]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def step_states(self) -> dict[str, str]:
        db = sqlite3.connect(self.state / "journal.sqlite")
        try:
            return dict(db.execute("SELECT step_id, state FROM steps").fetchall())
        finally:
            db.close()

    def wait_done(self, step_ids: list[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.step_states()
            if all(states.get(s) == "done" for s in step_ids):
                return
            time.sleep(0.05)
        raise AssertionError(f"steps not done in time: {step_ids}")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKSTEP_")}
    env["STACKSTEP_PLAIN"] = "1"
    return env


def build_fake_cloud(
    tmp_path: Path, api_port: int, connection: dict[str, object] | None = None
) -> FakeCloud:
    """Three fake hosts; ``connection`` holds host keys (default: transport local)."""
    connection = connection or {"transport": "local"}
    lines = [
        "cloud: fake",
        "release: grizzly",
        "target: havana",
        "defaults: {package_manager: yum, init: systemd}",
        "hosts:",
    ]
    for name, roles in HOSTS.items():
        root = tmp_path / "hosts" / name
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True)
        for tool in TOOLS:
            (bin_dir / tool).symlink_to(HERE / "fakebin.py")
        (root / "unit-files").write_text("\n".join(UNITS[name]) + "\n")
        (root / "kernels").write_text(KERNELS)
        if "compute" in roles:  # the final upgrade brings a new client library
            (root / "final-upgrade-installs").write_text("python-glanceclient\n")
        path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
        lines += [
            f"  {name}:",
            "    address: 127.0.0.1",
            f"    roles: {roles}",
            f"    env: {{PATH: '{path}', FAKE_ROOT: '{root}', "
            f"STACKSTEP_RECORD_DIR: '{root}/records'}}",
            *(f"    {key}: {value}" for key, value in connection.items()),
        ]
    inventory = tmp_path / "cloud.yaml"
    inventory.write_text("\n".join(lines) + "\n")
    catalog = tmp_path / "series.toml"
    catalog.write_text(SERIES.replace("PORT", str(api_port)))
    return FakeCloud(tmp_path / "hosts", inventory, catalog, tmp_path / "state")
