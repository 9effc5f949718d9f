"""Real peers for integration tests: a throwaway OpenSSH server on 127.0.0.1.

The server runs from its own config, keys and authorized_keys in a temp dir: the
machine's own sshd, /etc/ssh and ~/.ssh are never touched. When ``/usr/sbin/sshd`` (or
``sudo``) is missing and we are root, it is installed once with apt-get (CI runs as root
on a fresh Debian machine); otherwise the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import http.server
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fakecloud import OkHandler
from stackstep.model.inventory import Host
from stackstep.transport.base import TransportOptions

SSHD = "/usr/sbin/sshd"
ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"
_install_attempts: dict[str, str | None] = {}  # package -> None (ok) or why it failed


def ensure_installed(binary: str, package: str) -> None:
    """Skip the test unless ``binary`` exists; as root, apt-get install it once first."""
    if Path(binary).exists():
        return
    if package not in _install_attempts:
        _install_attempts[package] = _apt_install(package)
    if not Path(binary).exists():
        pytest.skip(f"{binary} is missing and could not be installed: {_install_attempts[package]}")


def _apt_install(package: str) -> str | None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root, or no apt-get: install the package by hand"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    output = ""
    for steps in ([install], [["apt-get", "update", "-q"], install]):
        for step in steps:
            done = subprocess.run(
                step, check=False, env=env, capture_output=True, text=True, timeout=600
            )
            output = (done.stdout + done.stderr)[-500:]
            if done.returncode != 0:
                break
        else:
            return None
    return f"apt-get failed: {output}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _keygen(path: Path, comment: str) -> str:
    """An ed25519 key pair at ``path``; returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class Sshd:
    """A running test sshd and what a client needs to reach it."""

    dir: Path
    port: int
    host_key: str  # "ssh-ed25519 AAAA..." of the server
    client_key: Path  # authorized for every user
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {' '.join(self.host_key.split()[:2])}\n"

    def known_hosts(self, where: Path) -> Path:
        """A known_hosts file at ``where`` that trusts this server."""
        where.write_text(self.known_hosts_line)
        return where

    def host(self, **overrides: object) -> Host:
        fields: dict[str, object] = {
            "name": "node-1",
            "address": "127.0.0.1",
            "port": self.port,
            "user": "root",
            "identity_file": str(self.client_key),
        }
        fields.update(overrides)
        return Host(**fields)  # type: ignore[arg-type]

    def options(self, known_hosts: Path, **kw: object) -> TransportOptions:
        kw.setdefault("connect_timeout", 5.0)
        return TransportOptions(known_hosts=str(known_hosts), **kw)  # type: ignore[arg-type]

    def drop_connections(self) -> None:
        """Kill the server's per-connection processes, as if the network dropped."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                os.kill(int(stat.parent.name), signal.SIGKILL)

    def accepted(self) -> int:
        """How many logins the server has accepted so far (one per SSH connection)."""
        return self.log.read_text(errors="replace").count("Accepted publickey for")


def _config(sshd_dir: Path, port: int) -> str:
    return "\n".join([
        "ListenAddress 127.0.0.1",
        f"Port {port}",
        f"HostKey {sshd_dir / 'host_ed25519'}",
        f"AuthorizedKeysFile {sshd_dir / 'authorized_keys'}",
        f"PidFile {sshd_dir / 'sshd.pid'}",
        "StrictModes no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UseDNS no",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        "",
    ])  # fmt: skip


def _wait_for_banner(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"sshd did not answer on 127.0.0.1:{port}:\n{log.read_text()}")


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """An OpenSSH server on 127.0.0.1 with its own keys; root may log in with the key."""
    ensure_installed(SSHD, "openssh-server")
    base = Path(tempfile.mkdtemp(prefix="stackstep-sshd-"))
    base.chmod(0o755)  # the throwaway user's sshd child reads authorized_keys here
    host_key = _keygen(base / "host_ed25519", "test-host")
    _keygen(base / "client_ed25519", "test-client")
    authorized = base / "authorized_keys"
    authorized.write_text((base / "client_ed25519.pub").read_text())
    authorized.chmod(0o644)
    port = _free_port()
    (base / "sshd_config").write_text(_config(base, port))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    log = base / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(base / "sshd_config")], stdout=out, stderr=out
        )
    try:
        _wait_for_banner(proc, port, log)
        yield Sshd(base, port, host_key, base / "client_ed25519", log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_key(tmp_path: Path) -> Callable[[str], tuple[Path, str]]:
    """Make a fresh ed25519 key pair: ``make_key(name) -> (private key path, public line)``."""

    def make(name: str) -> tuple[Path, str]:
        return tmp_path / name, _keygen(tmp_path / name, name)

    return make


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    return _free_port()


@pytest.fixture(scope="session")
def sudo_installed() -> None:
    ensure_installed("/usr/bin/sudo", "sudo")


@pytest.fixture(scope="session")
def unprivileged_user(sshd: Sshd) -> Iterator[str]:
    """A throwaway local user that may log in with the test key but has no sudo rights."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throwaway user")
    name = f"ststep{secrets.token_hex(3)}"
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name], check=True)
    try:
        # '*': no password, but not locked ('!'), so sshd without PAM allows key logins
        subprocess.run(["usermod", "-p", "*", name], check=True)
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture(scope="session")
def api() -> Iterator[int]:
    """The port of an HTTP server on 127.0.0.1 answering 200 to everything (API probes)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
