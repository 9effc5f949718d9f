"""The target repository check: which read-only question each kind of "enable the
repository" command leads to, and the URL check run for real against 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator

import pytest

from stackstep.drivers.repocheck import repo_check


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path.endswith(".rpm") else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60, env=env)


def test_a_release_rpm_url_is_fetched(server):
    good = repo_check(["yum", "install", "-y", f"{server}/rdo-release-havana.rpm"], "yum")
    assert good is not None and good.what.endswith("rdo-release-havana.rpm answers")
    assert run(list(good.command.reveal())).returncode == 0
    bad = repo_check(["yum", "install", "-y", f"{server}/gone/"], "yum")
    assert bad is not None
    proc = run(list(bad.command.reveal()))
    assert proc.returncode == 1
    assert f"cannot fetch {server}/gone/" in proc.stdout


def test_a_release_package_is_looked_up_with_the_hosts_package_manager():
    check = repo_check(["dnf", "-y", "install", "centos-release-openstack-gazpacho"], "dnf")
    assert check is not None
    argv = check.command.reveal()
    assert argv[:2] == ["sh", "-c"] and argv[-2:] == ["dnf", "centos-release-openstack-gazpacho"]
    assert "list --available" in argv[2]
    old = repo_check(["yum", "install", "-y", "rdo-release-havana"], "yum")
    assert old is not None and old.command.reveal()[-2:] == ["yum", "rdo-release-havana"]


def test_cloud_archive_and_apt_and_custom_commands():
    pocket = repo_check(["add-apt-repository", "-y", "cloud-archive:caracal"], "apt")
    assert pocket is not None and pocket.what == "the Ubuntu Cloud Archive has caracal"
    assert pocket.command.reveal()[-1] == "caracal"
    apt = repo_check(["apt-get", "install", "-y", "ubuntu-cloud-keyring"], "apt")
    assert apt is not None and "apt-cache policy" in apt.command.reveal()[2]
    assert repo_check(["/usr/local/sbin/enable-our-mirror", "havana"], "yum") is None
    assert repo_check(["true"], "apt") is None
