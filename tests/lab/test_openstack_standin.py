"""The stand-in OpenStack services, run here (not in containers) against a real MariaDB.

Each test "installs" package payloads from ``release_packages`` into a temp root that
``OPENSTACK_LAB_ROOT`` points standin.py at, with the configs' ``@controller/`` DB
host replaced by a MariaDB this module starts in a temp datadir (one database name
prefix per test) and every port replaced by a free one. standin.py runs with Debian's
/usr/bin/python3 and python3-pymysql, as on the lab hosts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackstep.lab.openstack import packages
from stackstep.lab.openstack.services import GLANCECLIENT_MODULE

PYTHON = "/usr/bin/python3"
STANDIN = "/usr/lib/openstack-lab/standin.py"
KEYSTONE_V3 = {"id": "v3.0", "status": "stable", "updated": "2013-03-06T00:00:00Z"}
MARIADBD = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
TOKEN_JSON = "JSON_OBJECT('user', JSON_OBJECT('id', CONCAT('u', seq)))"  # Grizzly token.extra


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tools_missing() -> list[str]:
    server = any(Path(p).exists() for p in MARIADBD) and shutil.which("mariadb-install-db")
    missing = [] if server and shutil.which("mariadb") else ["mariadb-server"]
    has_pymysql = Path(PYTHON).exists() and subprocess.run(
        [PYTHON, "-c", "import pymysql"], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    return sorted(set(missing + ([] if has_pymysql else ["python3-pymysql"])))


@dataclass
class MariaDB:
    port: int

    def run(self, statement: str, database: str = "") -> subprocess.CompletedProcess[str]:
        argv = ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{self.port}", "-uroot", "-N", "-B"]
        return subprocess.run([*argv, *([database] if database else []), "-e", statement],
                              capture_output=True, text=True, check=False)  # fmt: skip

    def sql(self, statement: str, database: str = "") -> str:
        done = self.run(statement, database)
        assert done.returncode == 0, f"{statement}: {done.stderr}"
        return done.stdout.strip()


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    missing = _tools_missing()
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        for steps in ([install], [["apt-get", "update", "-q"], install]):
            if all(subprocess.run(s, env=env, capture_output=True, check=False).returncode == 0
                   for s in steps):  # fmt: skip
                break
        missing = _tools_missing()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install them)")
    work = tmp_path_factory.mktemp("mariadb")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={work / 'data'}", *user,
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, check=True,
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [next(p for p in MARIADBD if Path(p).exists()), "--no-defaults", *user,
         f"--datadir={work / 'data'}", f"--socket={work / 'sock'}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-grant-tables", f"--log-error={work / 'err.log'}",
         f"--pid-file={work / 'pid'}", "--innodb-flush-log-at-trx-commit=2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    db = MariaDB(port)
    deadline = time.monotonic() + 30
    while db.run("SELECT 1").returncode:
        assert server.poll() is None and time.monotonic() < deadline, (work / "err.log").read_text()
        time.sleep(0.1)
    try:
        yield db
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Started:
    proc: subprocess.Popen[str]
    ready: bool
    port: int | None

    def get(self, path: str) -> tuple[int, str, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, answer.read().decode(), answer.headers["Server"]
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers["Server"]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.communicate(timeout=10)[1]


@dataclass
class Cloud:
    """A temp root holding installed package payloads, standin.py running against it."""

    root: Path
    db: MariaDB
    prefix: str
    running: list[Started] = field(default_factory=list)

    def install(self, release: str, names: set[str] | None = None) -> None:
        for spec in packages.release_packages(release):
            if names is not None and spec.name not in names:
                continue
            for path, (content, mode) in spec.payload().items():
                target = self.root / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                text = content.decode()
                if path.startswith("/etc/"):
                    text = text.replace("@controller/", f"@127.0.0.1:{self.db.port}/{self.prefix}")
                if path.endswith(".json"):
                    document = json.loads(text)
                    for component in document["components"].values():
                        if component.get("port"):
                            component["port"] = _free_port()
                    text = json.dumps(document)
                target.write_text(text)
                target.chmod(mode)

    def create_databases(self) -> None:
        for _, database, _ in packages.DATABASES:
            self.db.sql(f"CREATE DATABASE IF NOT EXISTS {self.prefix}{database}")

    def sql(self, statement: str, database: str) -> str:
        return self.db.sql(statement, self.prefix + database)

    def env(self) -> dict[str, str]:
        return {**os.environ, "OPENSTACK_LAB_ROOT": str(self.root), "OPENSTACK_LAB_BIND":
                "127.0.0.1", "LC_ALL": "C"}  # fmt: skip

    def manage(self, service: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [PYTHON, str(self.root / STANDIN.lstrip("/")), "manage", service, *args]
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip

    def ok(self, service: str, *args: str) -> str:
        done = self.manage(service, *args)
        assert done.returncode == 0, f"{service} {args}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, service: str, component: str, timeout: float = 20) -> Started:
        """Run ``serve``; wait for sd_notify READY=1 (ready) or for the process to exit."""
        document = json.loads((self.root / f"usr/share/openstack-lab/{service}.json").read_text())
        port = document["components"].get(component, {}).get("port")
        notify = Path(tempfile.mkdtemp(prefix="nfy")) / "s"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(notify))
            sock.settimeout(0.1)
            argv = [PYTHON, str(self.root / STANDIN.lstrip("/")), "serve", service, component]
            proc = subprocess.Popen(argv, env={**self.env(), "NOTIFY_SOCKET": str(notify)},
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            started = Started(proc, False, port)
            self.running.append(started)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    started.ready = sock.recv(100) == b"READY=1"
                    break
                except TimeoutError:
                    continue
        shutil.rmtree(notify.parent)
        return started

    def refused(self, service: str, component: str) -> str:
        started = self.start(service, component)
        assert not started.ready
        status, stderr = started.proc.wait(timeout=60), started.stop()
        assert status == 1, stderr
        return stderr


@pytest.fixture
def cloud(mariadb: MariaDB, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cloud]:
    prefix = re.sub(r"\W", "_", request.node.name.removeprefix("test_"))[:30] + "_"
    the_cloud = Cloud(tmp_path / "root", mariadb, prefix)
    the_cloud.create_databases()
    try:
        yield the_cloud
    finally:
        for started in the_cloud.running:
            started.stop()


def quantum_args(name: str) -> list[str]:
    plugin = "/etc/quantum/plugin.ini" if name == "quantum" else "/etc/neutron/plugin.ini"
    return ["--config-file", f"/etc/{name}/{name}.conf", "--config-file", plugin]


# --- tests ----------------------------------------------------------------------------


def test_grizzly_db_sync_then_every_api_answers_its_probe(cloud: Cloud) -> None:
    cloud.install("grizzly")
    syncs = {"keystone": (["db_sync"], "20"), "glance": (["db_sync"], "20"),
             "cinder": (["db", "sync"], "9"), "nova": (["db", "sync"], "161")}  # fmt: skip
    for service, (argv, head) in syncs.items():
        assert "done" in cloud.ok(service, *argv)
        assert cloud.ok(service, *(w.replace("sync", "version") for w in argv)).strip() == head
    for probe in ("keystone keystone /v3 200", "glance api / 300", "glance registry / 200",
                  "cinder api / 200", "nova api / 200", "quantum server / 200",
                  "swift proxy /healthcheck 200", "horizon dashboard /dashboard 200"):  # fmt: skip
        service, component, path, status = probe.split()
        started = cloud.start(service, component)
        assert started.ready, started.stop()
        code, body, server = started.get(path)
        assert code == int(status) and server == f"{service}-{component}/2013.1"
        if service == "keystone":  # what the brief asks, plus keystone's "updated"
            assert json.loads(body) == {"version": {**KEYSTONE_V3, "release": "2013.1"}}
        if service == "swift":
            assert body == "OK"
        assert started.get("/nowhere")[0] == 404
        started.stop()
    for component in ("scheduler", "conductor", "compute"):  # no API: they just run
        assert cloud.start("nova", component).ready


def test_havana_code_refuses_a_grizzly_schema_and_db_sync_keeps_rows(cloud: Cloud) -> None:
    cloud.install("grizzly")
    cloud.ok("keystone", "db_sync")
    cloud.ok("nova", "db", "sync")
    cloud.sql("INSERT INTO `user` (id, name, enabled) VALUES ('u1', 'admin', 1)", "keystone")
    cloud.sql("INSERT INTO instances (uuid, hostname) VALUES ('i-1', 'vm1')", "nova")
    cloud.install("havana")
    message = cloud.refused("keystone", "keystone")
    assert "schema version 20 does not match code version 34: run keystone-manage db_sync" in (
        message
    )
    assert "run nova-manage db sync" in cloud.refused("nova", "api")
    assert "20 -> 31... done" in cloud.ok("keystone", "db_sync")
    cloud.ok("nova", "db", "sync")
    assert cloud.ok("keystone", "db_version").strip() == "34"
    assert cloud.sql("SELECT name, default_project_id FROM `user`", "keystone") == "admin\tNULL"
    assert cloud.sql("SELECT hostname, locked_by FROM instances", "nova") == "vm1\tNULL"
    started = cloud.start("keystone", "keystone")
    assert started.ready
    code, body, _ = started.get("/v3")
    assert code == 200 and json.loads(body)["version"]["release"] == "2013.2"
    cloud.install("grizzly", {"openstack-keystone"})  # a rollback of the code alone
    started.stop()
    refused = cloud.refused("keystone", "keystone")
    assert "schema version 34 does not match code version 20" in refused
    assert "cannot downgrade" in cloud.manage("keystone", "db_sync").stderr


def test_token_flush_exists_only_in_havana_and_deletes_expired_tokens(cloud: Cloud) -> None:
    cloud.install("grizzly")
    cloud.ok("keystone", "db_sync")
    cloud.sql(f"INSERT INTO token (id, expires, extra) SELECT CONCAT('old', seq), UTC_TIMESTAMP()"
              f" - INTERVAL 1 DAY, {TOKEN_JSON} FROM seq_1_to_3", "keystone")  # fmt: skip
    cloud.sql("INSERT INTO token VALUES ('new', UTC_TIMESTAMP() + INTERVAL 1 DAY, '{\"user\": "
              "{\"id\": \"u9\"}}', 1), ('bare', NULL, NULL, 1)", "keystone")  # fmt: skip
    grizzly = cloud.manage("keystone", "token_flush")
    assert grizzly.returncode == 2 and "unknown command token_flush" in grizzly.stderr
    cloud.install("havana")
    flushed = cloud.manage("keystone", "token_flush")
    assert flushed.returncode == 0 and "3 expired tokens flushed" in flushed.stderr
    cloud.ok("keystone", "db_sync")
    tokens = cloud.sql("SELECT id, IFNULL(user_id, '-') FROM token ORDER BY id", "keystone")
    assert tokens == "bare\t-\nnew\tu9"
    indexes = cloud.sql("SHOW INDEX FROM token WHERE Key_name = 'ix_token_expires'", "keystone")
    assert "expires" in indexes


@pytest.mark.slow
def test_a_huge_token_table_makes_havana_db_sync_crawl(cloud: Cloud, tmp_path: Path) -> None:
    """Grizzly never purged tokens; flushing them first is what makes the sync fast."""
    seconds = {}
    for label in ("flushed", "unflushed"):
        site = Cloud(tmp_path / label, cloud.db, f"{cloud.prefix}{label[:2]}_", cloud.running)
        site.create_databases()
        site.install("grizzly", {"openstack-lab-common", "openstack-keystone"})
        site.ok("keystone", "db_sync")
        site.sql("INSERT INTO token (id, expires, extra) SELECT CONCAT('t', seq), '2013-01-01', "
                 f"{TOKEN_JSON} FROM seq_1_to_20000", "keystone")  # fmt: skip
        site.install("havana", {"openstack-keystone"})
        started = time.perf_counter()
        if label == "flushed":
            site.ok("keystone", "token_flush")
        site.ok("keystone", "db_sync")
        seconds[label] = time.perf_counter() - started
        kept = site.sql("SELECT COUNT(*), COUNT(user_id) FROM token", "keystone")
        assert kept == ("0\t0" if label == "flushed" else "20000\t20000")
    assert seconds["unflushed"] > 3 * seconds["flushed"], seconds


def test_quantum_db_is_unstamped_and_neutron_upgrade_needs_the_stamp(cloud: Cloud) -> None:
    cloud.install("grizzly")
    assert cloud.start("quantum", "server").ready  # Grizzly's server creates its tables
    cloud.sql("INSERT INTO networks (id, name) VALUES ('n1', 'public')", "ovs_quantum")
    current = cloud.ok("quantum", *quantum_args("quantum"), "current")
    assert current.strip().endswith(": None") and "XXXXX@" in current
    cloud.install("havana")
    failed = cloud.manage("neutron", *quantum_args("quantum"), "upgrade", "head")
    assert failed.returncode == 1 and "Table 'networks' already exists" in failed.stderr
    assert "not stamped" in failed.stderr
    bogus = cloud.manage("quantum", *quantum_args("quantum"), "stamp", "icehouse")
    assert bogus.returncode == 1 and "Can't locate revision identified by 'icehouse'" in (
        bogus.stderr
    )
    cloud.ok("quantum", *quantum_args("quantum"), "stamp", "grizzly")
    assert cloud.ok("quantum", *quantum_args("quantum"), "current").strip().endswith(": grizzly")
    neutron = cloud.root / "etc/neutron"
    assert "Failed to read some config files" in cloud.refused("neutron", "server")
    (neutron / "plugin.ini").symlink_to(neutron / "plugins/openvswitch/ovs_neutron_plugin.ini")
    assert "does not match code version havana" in cloud.refused("neutron", "server")
    upgraded = cloud.ok("neutron", *quantum_args("neutron"), "upgrade", "head")
    assert "Running upgrade grizzly -> 3c6e57a23db4" in upgraded
    assert cloud.ok("neutron", *quantum_args("neutron"), "current").strip().endswith(": havana")
    assert cloud.sql("SELECT name FROM networks", "ovs_quantum") == "public"
    assert cloud.start("neutron", "server").ready
    conf = neutron / "neutron.conf"
    conf.write_text(conf.read_text().replace("core_plugin = neutron.", "core_plugin = quantum."))
    assert "ImportError: No module named quantum" in cloud.refused("neutron", "server")


def test_running_compute_dies_when_glanceclient_changes_under_it(cloud: Cloud) -> None:
    cloud.install("grizzly")
    client = cloud.root / GLANCECLIENT_MODULE.lstrip("/")
    assert client.read_text() == '__version__ = "0.9.0"\n'
    compute = cloud.start("nova", "compute")
    assert compute.ready
    cloud.install("havana", {"python-glanceclient"})
    assert compute.proc.wait(timeout=10) == 1
    assert "AttributeError: 'HTTPResponse' object has no attribute 'getsockopt'" in compute.stop()
    restarted = cloud.start("nova", "compute")  # the restart loads the new client
    assert restarted.ready
    time.sleep(1.5)
    assert restarted.proc.poll() is None
    restarted.stop()
    # Havana's compute breaks the same way: the seed restarts it after the final upgrade
    client.write_text("0.9.0\n")
    cloud.install("havana", {"openstack-nova-common", "openstack-nova-compute"})
    havana = cloud.start("nova", "compute")
    client.write_text("0.12.1\n")
    assert havana.proc.wait(timeout=10) == 1
    assert "getsockopt" in havana.stop()


def test_havana_horizon_needs_allowed_hosts_in_local_settings(cloud: Cloud) -> None:
    cloud.install("grizzly")
    settings = cloud.root / "etc/openstack-dashboard/local_settings"
    grizzly_settings = settings.read_text()
    assert "ALLOWED_HOSTS" not in grizzly_settings
    assert cloud.start("horizon", "dashboard").ready
    cloud.install("havana")
    havana_settings = settings.read_text()
    assert "ALLOWED_HOSTS = ['localhost']" in havana_settings and "SECRET_KEY = None" in (
        havana_settings
    )
    settings.write_text(grizzly_settings)  # the operator's edited file kept; .rpmnew beside
    assert "Django >= 1.5 requires ALLOWED_HOSTS" in cloud.refused("horizon", "dashboard")
    settings.write_text(grizzly_settings + "ALLOWED_HOSTS = ['*']\n")
    started = cloud.start("horizon", "dashboard")
    assert started.ready and started.get("/dashboard")[:1] == (200,)


def test_cli_errors_are_clear(cloud: Cloud) -> None:
    cloud.install("grizzly", {"openstack-lab-common", "openstack-cinder"})
    assert "unknown command db frobnicate" in cloud.manage("cinder", "db", "frobnicate").stderr
    missing = cloud.manage("glance", "db_sync")
    assert missing.returncode == 1 and "glance is not installed here" in missing.stderr
    assert "has no component 'nope'" in cloud.refused("cinder", "nope")
    assert "not under version control" in cloud.manage("cinder", "db", "version").stderr
    assert "schema version none (empty database)" in cloud.refused("cinder", "volume")
