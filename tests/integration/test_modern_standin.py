"""The modern stand-ins (flamingo -> gazpacho) run here against a real MariaDB.

Each "host" is a temp root holding the payload of the rpm flavour's packages of one
release; ``modern_standin.py`` runs from it with Debian's /usr/bin/python3 and
python3-pymysql (as on the lab hosts), ``OPENSTACK_LAB_ROOT`` pointing at it and every
API on a free port of 127.0.0.1. Two hosts of different releases share one database, as
two controllers in the middle of a roll.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
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

from stackstep.lab.openstack import modern

PYTHON = "/usr/bin/python3"
SCRIPT = modern.SCRIPT.lstrip("/")
SERVERS = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
PORT_KEYS = {"nova": "osapi_compute_listen_port", "cinder": "osapi_volume_listen_port"}
DB_SECTIONS = {
    "glance": ["database"], "placement": ["placement_database"],
    "nova": ["api_database", "database"], "neutron": ["database"], "cinder": ["database"],
}  # fmt: skip


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Database:
    work: Path

    def sql(self, statement: str) -> str:
        argv = ["mariadb", "--no-defaults", f"--socket={self.work / 'sock'}", "-uroot", "-N", "-B"]
        done = subprocess.run([*argv, "-e", statement], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{statement}: {done.stderr}"
        return done.stdout.strip()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, int]]:
    binary = next((p for p in SERVERS if Path(p).exists()), None)
    if binary is None or not shutil.which("mariadb-install-db") or not shutil.which("mariadb"):
        pytest.skip("needs mariadb-server (apt-get install mariadb-server)")
    pymysql = subprocess.run([PYTHON, "-c", "import pymysql"], capture_output=True, check=False)
    if pymysql.returncode:
        pytest.skip("needs python3-pymysql for /usr/bin/python3")
    work = tmp_path_factory.mktemp("mariadb")
    user = ["--user=root"] if os.geteuid() == 0 else []
    data = f"--datadir={work / 'data'}"
    subprocess.run(["mariadb-install-db", "--no-defaults", data, *user, "--skip-test-db"],
                   capture_output=True, check=True)  # fmt: skip
    port = _port()
    proc = subprocess.Popen(
        [binary, "--no-defaults", *user, data, f"--socket={work / 'sock'}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-grant-tables", f"--log-error={work / 'err.log'}",
         f"--pid-file={work / 'pid'}"],
    )  # fmt: skip
    db = Database(work)
    deadline = time.monotonic() + 30
    while not (work / "sock").exists() or subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={work / 'sock'}", "-uroot", "-e", "SELECT 1"],
        capture_output=True, check=False,
    ).returncode:  # fmt: skip
        assert proc.poll() is None and time.monotonic() < deadline, (work / "err.log").read_text()
        time.sleep(0.2)
    try:
        yield db, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class Process:
    proc: subprocess.Popen[str]
    ready: bool
    port: int

    def get(self, path: str, method: str = "GET") -> tuple[int, str, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.read().decode(), answer.headers["Server"]
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers["Server"]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.communicate(timeout=10)[1]


@dataclass
class Host:
    """A temp root with one release's packages "installed", sharing the cloud's databases."""

    root: Path
    name: str
    db_port: int
    prefix: str
    ports: dict[str, int] = field(default_factory=dict)
    running: list[Process] = field(default_factory=list)

    def install(self, release: str, **extra: str) -> None:
        """Lay down the payloads and a site config (DB URLs, free ports, host name)."""
        for spec in modern.release_packages(release, "rpm"):
            for path, (content, mode) in spec.payload().items():
                target = self.root / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                target.chmod(mode)
        for service, sections in DB_SECTIONS.items():
            conf = self.root / modern.document(service, release)["config"][0].lstrip("/")
            port = self.ports.setdefault(service, _port())
            lines = [
                f"[DEFAULT]\nhost = {self.name}\n{PORT_KEYS.get(service, 'bind_port')} = {port}"
            ]
            for section in sections:
                name = f"{self.prefix}{service}{'_api' if section == 'api_database' else ''}"
                lines.append(
                    f"[{section}]\nconnection = mysql+pymysql://{service}:x@127.0.0.1:"
                    f"{self.db_port}/{name}"
                )
            lines += [f"[{s}]\n" + "\n".join(v) for s, v in _sections(extra, service).items()]
            conf.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return {**env, "OPENSTACK_LAB_ROOT": str(self.root), "OPENSTACK_LAB_BIND": "127.0.0.1"}

    def cli(self, mode: str, service: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [PYTHON, str(self.root / SCRIPT), mode, service, *args]
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip

    def code(self, service: str, *args: str) -> int:
        return self.cli("manage", service, *args).returncode

    def ok(self, service: str, *args: str) -> str:
        done = self.cli("manage", service, *args)
        assert done.returncode == 0, f"{service} {args}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, service: str, component: str) -> Process:
        """``serve`` it; wait for sd_notify READY=1 or for it to exit (refused)."""
        folder = Path(tempfile.mkdtemp(prefix="nfy"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(folder / "s"))
            sock.settimeout(0.1)
            proc = subprocess.Popen(
                [PYTHON, str(self.root / SCRIPT), "serve", service, component],
                env={**self.env(), "NOTIFY_SOCKET": str(folder / "s")},
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            started = Process(proc, False, self.ports[service])
            self.running.append(started)
            deadline = time.monotonic() + 20
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    started.ready = sock.recv(100) == b"READY=1"
                    break
                except TimeoutError:
                    continue
        shutil.rmtree(folder)
        return started

    def refused(self, service: str, component: str) -> str:
        started = self.start(service, component)
        assert not started.ready and started.proc.wait(timeout=10) != 0
        return started.stop()

    def state(self, service: str, component: str) -> dict[str, object]:
        path = self.root / f"run/openstack-lab/{service}-{component}.json"
        return dict(json.loads(path.read_text()))


def _sections(extra: dict[str, str], service: str) -> dict[str, list[str]]:
    """``upgrade_levels__compute="auto"`` -> {"upgrade_levels": ["compute = auto"]} (nova)."""
    found: dict[str, list[str]] = {}
    for key, value in extra.items():
        section, option = key.split("__")
        if service == "nova":
            found.setdefault(section, []).append(f"{option} = {value}")
    return found


@pytest.fixture
def cloud(database: tuple[Database, int], tmp_path: Path) -> Iterator[dict[str, Host]]:
    """controller1 (gazpacho after install), compute1/2, old (flamingo): one DB set per test."""
    db, port = database
    prefix = f"t{os.getpid()}_{tmp_path.name[-12:].replace('-', '_')}_"
    for service in DB_SECTIONS:
        db.sql(f"CREATE DATABASE {prefix}{service}; CREATE DATABASE {prefix}{service}_api")
    hosts = {n: Host(tmp_path / n, n, port, prefix) for n in ("old", "new", "compute1", "compute2")}
    try:
        yield hosts
    finally:
        for host in hosts.values():
            for process in host.running:
                process.stop()


def _wait(predicate: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --- HTTP: version documents and /healthcheck ------------------------------------------

APIS = [
    ("glance", "api", 300, "/etc/glance/healthcheck_disable"),
    ("cinder", "api", 300, "/etc/cinder/healthcheck_disable"),
    ("neutron", "server", 200, "/var/lib/neutron/healthcheck_disable"),
    ("placement", "api", 200, None),
    ("nova", "api", 200, None),
]
SYNC = {
    "glance": [["db", "sync"]], "cinder": [["db", "sync"]], "placement": [["db", "sync"]],
    "neutron": [["upgrade", "heads"]], "nova": [["api_db", "sync"], ["db", "sync"]],
}  # fmt: skip


@pytest.mark.parametrize(("service", "component", "root_status", "disable"), APIS)
def test_api_answers_version_document_and_healthcheck_follows_the_file(
    cloud: dict[str, Host], service: str, component: str, root_status: int, disable: str | None
) -> None:
    host = cloud["old"]
    host.install("flamingo")
    for argv in SYNC[service]:
        host.ok(service, *argv)
    api = host.start(service, component)
    assert api.ready
    status, body, server = api.get("/")
    assert (status, server) == (
        root_status,
        f"{service}-{component}/{modern.VERSIONS[service]['flamingo']}",
    )
    first = json.loads(body)["versions"][0]
    if first["links"][0]["href"] != "/":  # placement's one version is the root
        assert api.get(first["links"][0]["href"])[:2] == (200, json.dumps({"version": first}))
    if disable is None:  # placement and nova-api: drained through HAProxy's socket
        assert api.get("/healthcheck")[0] == 404
        return
    assert api.get("/healthcheck")[:2] == (200, "OK")
    assert api.get("/healthcheck", "HEAD")[0] == 204
    flag = host.root / disable.lstrip("/")
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()  # no restart: checked on every request
    assert api.get("/healthcheck")[:2] == (503, "DISABLED BY FILE")
    assert api.get("/healthcheck", "HEAD")[0] == 503
    assert api.get("/")[0] == root_status  # the API itself still answers
    flag.unlink()
    assert api.get("/healthcheck")[:2] == (200, "OK")


# --- expand / migrate / contract -------------------------------------------------------


def test_glance_check_codes_through_expand_migrate_contract(cloud: dict[str, Host]) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    old.ok("glance", "db", "sync")
    assert old.code("glance", "db", "check") == 0
    running_old = old.start("glance", "api")
    assert running_old.ready
    new.install("gazpacho")
    assert new.code("glance", "db", "check") == 3
    assert "run glance-manage db expand" in new.refused("glance", "api")
    assert new.code("glance", "db", "migrate") == 1  # not before expand
    assert new.code("glance", "db", "contract") == 1
    new.ok("glance", "db", "expand")
    assert new.code("glance", "db", "check") == 4
    assert "run glance-manage db migrate" in new.refused("glance", "api")
    new.ok("glance", "db", "migrate")
    assert new.code("glance", "db", "check") == 5
    assert new.start("glance", "api").ready  # mixed versions: both serve
    assert "cannot listen on 127.0.0.1:" in old.refused("glance", "api")  # port taken
    assert running_old.get("/")[0] == 300
    assert old.code("glance", "db", "check") == 0  # the old code sees nothing to do
    new.ok("glance", "db", "contract")
    assert new.code("glance", "db", "check") == 0
    running_old.stop()
    assert "contracted past this code (flamingo)" in old.refused("glance", "api")


def test_neutron_expand_keeps_old_servers_and_contract_is_offline_only(
    cloud: dict[str, Host],
) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    assert old.code("neutron", "has_offline_migrations") == 1  # empty DB: contract pending
    plugin = old.root / "etc/neutron/plugin.ini"
    plugin.symlink_to("plugins/ml2/ml2_conf.ini")  # what openstack-neutron-ml2's %post does
    conf = [f"--config-file=/etc/neutron/{n}" for n in ("neutron.conf", "plugin.ini")]
    old.ok("neutron", *conf, "upgrade", "heads")  # the catalog's argv
    assert old.code("neutron", "has_offline_migrations") == 0
    server = old.start("neutron", "server")
    new.install("gazpacho")
    assert "run neutron-db-manage upgrade --expand" in new.refused("neutron", "server")
    new.ok("neutron", "upgrade", "--expand")
    assert new.code("neutron", "has_offline_migrations") == 0  # nothing since newton
    assert new.start("neutron", "server").ready
    assert server.get("/")[0] == 200 and server.proc.poll() is None
    server.stop()
    assert old.start("neutron", "server").ready  # an old server restarts on the expanded DB


def test_new_code_refuses_an_unsynced_database_old_code_runs_on_a_synced_one(
    cloud: dict[str, Host],
) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    for service in ("placement", "nova", "cinder"):
        for argv in SYNC[service]:
            old.ok(service, *argv)
    new.install("gazpacho", service_user__send_service_user_token="true")
    assert "run cinder-manage db sync" in new.refused("cinder", "scheduler")
    assert "run nova-manage api_db sync" in new.refused("nova", "conductor")
    new.ok("nova", "api_db", "sync")
    assert "run nova-manage db sync" in new.refused("nova", "conductor")
    assert new.cli("status", "nova", "upgrade", "check").returncode == 0
    for service in ("placement", "nova", "cinder"):
        new.ok(service, *SYNC[service][-1])
    assert new.start("nova", "conductor").ready
    assert new.start("placement", "api").ready
    assert old.start("nova", "scheduler").ready  # additive: the old code keeps working
    assert old.start("cinder", "volume").ready


# --- nova: too-old computes and the cached RPC cap -------------------------------------


def _nova(cloud: dict[str, Host]) -> tuple[Host, Host]:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    old.ok("nova", "api_db", "sync")
    old.ok("nova", "db", "sync")
    new.install("gazpacho", upgrade_levels__compute="auto",
                service_user__send_service_user_token="true")  # fmt: skip
    new.ok("nova", "api_db", "sync")
    new.ok("nova", "db", "sync")
    return old, new


def test_a_too_old_compute_record_stops_every_new_nova_service(
    cloud: dict[str, Host], database: tuple[Database, int]
) -> None:
    _, new = _nova(cloud)
    db = new.prefix + "nova"
    database[0].sql(
        f"INSERT INTO {db}.services (host, `binary`, version) VALUES ('gone', 'nova-compute', 66)"
    )
    for component in ("conductor", "scheduler", "api", "compute"):
        log = new.refused("nova", component)
        assert "TooOldComputeService" in log and "minimum compute service level" in log
    assert new.cli("status", "nova", "upgrade", "check").returncode == 2
    database[0].sql(f"UPDATE {db}.services SET forced_down = 1 WHERE host = 'gone'")
    assert new.cli("status", "nova", "upgrade", "check").returncode == 0
    assert new.start("nova", "conductor").ready
    database[0].sql(f"UPDATE {db}.services SET forced_down = 0, deleted = id WHERE host = 'gone'")
    assert new.start("nova", "scheduler").ready


def test_nova_status_fails_without_the_service_user_token(cloud: dict[str, Host]) -> None:
    old, _ = _nova(cloud)
    done = old.cli("status", "nova", "upgrade", "check")
    assert done.returncode == 2 and "Service User Token Configuration" in done.stdout


def test_nova_rpc_cap_is_cached_until_hup_and_nova_api_needs_a_restart(
    cloud: dict[str, Host],
) -> None:
    _, new = _nova(cloud)
    compute2 = cloud["compute2"]
    compute2.install("flamingo")
    old_compute = compute2.start("nova", "compute")  # a flamingo compute (service 70)
    assert old_compute.ready
    conductor = new.start("nova", "conductor")
    api = new.start("nova", "api")
    assert new.state("nova", "conductor")["pins"] == {"compute": "6.4"}
    assert json.loads(api.get("/lab/state")[1])["pins"] == {"compute": "6.4"}
    old_compute.stop()  # roll compute2 to gazpacho (72)
    compute2.install("gazpacho", upgrade_levels__compute="auto")
    assert compute2.start("nova", "compute").ready
    time.sleep(0.5)
    assert new.state("nova", "conductor")["pins"] == {"compute": "6.4"}  # cached
    conductor.proc.send_signal(signal.SIGHUP)
    _wait(lambda: new.state("nova", "conductor")["hups"] == 1, "the conductor's HUP")
    assert new.state("nova", "conductor")["pins"] == {"compute": "6.5"}
    api.proc.send_signal(signal.SIGHUP)
    _wait(lambda: json.loads(api.get("/lab/state")[1])["hups"] == 1, "nova-api's HUP")
    assert json.loads(api.get("/lab/state")[1])["pins"] == {"compute": "6.4"}  # no reset hook
    api.stop()
    api = new.start("nova", "api")
    assert json.loads(api.get("/lab/state")[1])["pins"] == {"compute": "6.5"}


def test_cinder_pins_per_binary_until_hup_and_cinder_api_needs_a_restart(
    cloud: dict[str, Host],
) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    old.ok("cinder", "db", "sync")
    volume = old.start("cinder", "volume")
    new.install("gazpacho")
    new.ok("cinder", "db", "sync")
    scheduler, api = new.start("cinder", "scheduler"), new.start("cinder", "api")
    pinned = {"cinder-scheduler": "3.13", "cinder-volume": "3.19"}
    assert new.state("cinder", "scheduler")["pins"] == pinned
    volume.stop()
    old.install("gazpacho")
    assert old.start("cinder", "volume").ready  # same host: its row now says 3.20
    assert new.state("cinder", "scheduler")["pins"] == pinned
    for process in (scheduler, api):
        process.proc.send_signal(signal.SIGHUP)
    _wait(lambda: new.state("cinder", "scheduler")["hups"] == 1, "cinder-scheduler's HUP")
    _wait(lambda: new.state("cinder", "api")["hups"] == 1, "cinder-api's HUP")
    assert new.state("cinder", "scheduler")["pins"]["cinder-volume"] == "3.20"  # type: ignore[index]
    assert new.state("cinder", "api")["pins"] == pinned
    api.stop()
    new.start("cinder", "api")
    assert new.state("cinder", "api")["pins"]["cinder-volume"] == "3.20"  # type: ignore[index]


# --- online data migrations ------------------------------------------------------------


@pytest.mark.parametrize(("service", "flag"), [("nova", "--max-count"), ("cinder", "--max_count")])
def test_online_data_migrations_exit_1_while_batches_run_then_0(
    cloud: dict[str, Host], service: str, flag: str
) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    new.install("gazpacho")
    for argv in SYNC[service]:
        old.ok(service, *argv)
    assert old.code(service, "db", "online_data_migrations", flag, "50") == 0  # nothing yet
    for argv in SYNC[service]:
        new.ok(service, *argv)  # the upgrade leaves 120 rows to migrate
    codes = [new.code(service, "db", "online_data_migrations", flag, "50") for _ in range(4)]
    assert codes == [1, 1, 1, 0]  # upstream: 1 whenever a batch ran (50, 50, 20), then 0
    assert new.code(service, "db", "online_data_migrations", flag, "0") == 127
    other = "--max_count" if flag == "--max-count" else "--max-count"
    assert new.code(service, "db", "online_data_migrations", other, "5") == 2


def test_online_data_migrations_without_a_limit_run_to_the_end(cloud: dict[str, Host]) -> None:
    old, new = cloud["old"], cloud["new"]
    old.install("flamingo")
    new.install("gazpacho")
    old.ok("cinder", "db", "sync")
    new.ok("cinder", "db", "sync")
    assert new.code("cinder", "db", "online_data_migrations") == 0
    assert new.code("cinder", "db", "online_data_migrations", "--max_count", "50") == 0
    assert new.code("placement", "db", "sync") == 0
    assert new.code("placement", "db", "online_data_migrations", "--max-count", "10") == 0
    assert new.cli("status", "placement", "upgrade", "check").returncode == 0
