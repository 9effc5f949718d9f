"""`stackstep lab deploy --scenario ha`: a highly available keystone cloud on the lab.

Hosts (roles from the names, docs/lab.md): ``lb`` runs Debian's HAProxy, ``db`` MariaDB,
``controller1..3`` real keystone 28.1.0 (2025.2 "flamingo", to be upgraded to 29.1.0 of
2026.1 "gazpacho") sharing one database and one set of fernet and credential keys, each
with the ``/healthcheck`` disable file enabled; ``compute1..2`` get nothing OpenStack yet.
The services each role runs are :data:`ROLE_SERVICES`; each service registered in
:data:`INSTALLERS` installs itself on its hosts, so later stand-ins plug in beside keystone.

Order: build (or reuse) the keystone RPMs; in parallel MariaDB on db, the flamingo
repository + keystone on every controller, HAProxy on lb; the site's keystone.conf edit on
every controller; on controller1 only ``db_sync``, ``fernet_setup``, ``credential_setup``;
the key repositories copied to the other controllers; ``bootstrap`` once with the VIP as
every endpoint; keystone started everywhere; then the end check from lb: HAProxy shows
every server UP and a token issued through the VIP validates. Last, the inventory
(``cloud-ha.yaml``, with ``vip:`` and ``load_balancer:``) and ``openrc-ha``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackstep.lab.errors import LabError, LabInputError
from stackstep.lab.hosts import HostRunner
from stackstep.lab.lab import Lab, parse_hosts
from stackstep.lab.openstack import deploy as base
from stackstep.lab.openstack import keystone

HA_LAYOUT = "lb,controller1,controller2,controller3,db,compute1,compute2"
# what each role runs in this scenario (a later stand-in adds itself here and to INSTALLERS)
ROLE_SERVICES: dict[str, tuple[str, ...]] = {"controller": ("keystone",), "compute": ()}
# what each service installs on its hosts (from the old release's repository)
SERVICE_PACKAGES = {"keystone": ("openstack-keystone",)}
# service -> (HAProxy frontend/backend name, port, health URL path)
BACKENDS = {"keystone": ("keystone", keystone.PORT, "/healthcheck")}
HEALTHCHECK_DISABLE = "/etc/keystone/healthcheck_disable"
STATS_SOCKET = "/run/haproxy/admin.sock"
CHECK = "check inter 2000 rise 2 fall 5"  # kolla-ansible's: DOWN after 5 failed checks 2 s apart
UP_TIMEOUT = 60.0
OPENRC = "openrc-ha"
INVENTORY = "cloud-ha.yaml"
KEY_REPOSITORIES = ("/etc/keystone/fernet-keys", "/etc/keystone/credential-keys")
HA_EDIT = f"""
# site: HAProxy takes this node out while {HEALTHCHECK_DISABLE} exists (/healthcheck: 503)
[healthcheck]
backends = disable_by_file
disable_by_file_path = {HEALTHCHECK_DISABLE}

# site: cache validations as HA sites do (memcached there; each process's memory here)
[cache]
enabled = true
backend = dogpile.cache.memory
"""
# keystone's 28 -> 29 expand creates triggers: allowed for its user even with a binlog on
MARIADB_HA = "[mysqld]\nlog_bin_trust_function_creators = 1\n"

HAPROXY_GLOBAL = f"""# written by `stackstep lab deploy --scenario ha`
global
    chroot /var/lib/haproxy
    stats socket {STATS_SOCKET} mode 660 level admin
    stats timeout 30s
    user haproxy
    group haproxy
    daemon
    maxconn 4000

defaults
    mode http
    option redispatch
    retries 3
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout check 5s
"""
# Issue a token on this node and validate it there. A keystone process loads its policy on
# the first validation, and concurrent first validations race that load (403, 500): one
# validation after each start, before the node takes traffic, is the lab's warm-up, and
# the inventory's keystone smoke check, so the upgrade's health gate does the same.
VALIDATE_COMMAND = (
    "T=$(curl -sf -i -X POST -H 'Content-Type: application/json' "
    f"-d @{keystone.AUTH_FILE} http://127.0.0.1:{keystone.PORT}/v3/auth/tokens "
    "| sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *//p' | tr -d '\\r') && [ -n \"$T\" ] && "
    'curl -sf -o /dev/null -H "X-Auth-Token: $T" -H "X-Subject-Token: $T" '
    f"http://127.0.0.1:{keystone.PORT}/v3/auth/tokens"
)
# Talk to HAProxy's admin socket from a lab host (no socat in the image): argv socket, line.
SOCKET_SCRIPT = """import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
"""


@dataclass(frozen=True)
class HaHosts:
    lb: HostRunner
    db: HostRunner
    controllers: tuple[HostRunner, ...]
    computes: tuple[HostRunner, ...]

    @property
    def vip(self) -> str:
        return self.lb.host.address

    def with_role(self, role: str) -> tuple[HostRunner, ...]:
        return {"controller": self.controllers, "compute": self.computes}.get(role, ())


def haproxy_config(hosts: HaHosts) -> str:
    """HAProxy's whole config: one frontend on lb's address per service, one backend each
    with every host of the service as a server named like its inventory host."""
    parts = [HAPROXY_GLOBAL]
    for service, (name, port, path) in BACKENDS.items():
        servers = [r for role, names in ROLE_SERVICES.items() if service in names
                   for r in hosts.with_role(role)]  # fmt: skip
        parts += [
            f"\nfrontend {name}\n    bind {hosts.vip}:{port}\n    default_backend {name}\n",
            f"\nbackend {name}\n    balance roundrobin\n    option httpchk GET {path}\n"
            "    http-check expect status 200\n",
            *(f"    server {r.host.name} {r.host.address}:{port} {CHECK}\n" for r in servers),
        ]
    return "".join(parts)


def admin_socket(lb: HostRunner, line: str) -> str:
    """What HAProxy's admin socket on ``lb`` answers to ``line``."""
    return lb.exec(["python3", "-c", SOCKET_SCRIPT, STATS_SOCKET, line]).stdout


def server_status(lb: HostRunner, backend: str = "keystone") -> dict[str, str]:
    """``{server: status}`` of ``backend`` from ``show stat`` (UP, DOWN, UP 1/2, ...)."""
    text = admin_socket(lb, "show stat").lstrip("# ")
    rows = csv.DictReader(text.splitlines())
    return {
        row["svname"]: row["status"]
        for row in rows
        if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")
    }


def wait_status(lb: HostRunner, servers: list[str], status: str, timeout: float) -> float:
    """Seconds until every one of ``servers`` shows ``status``; LabError after ``timeout``."""
    started = time.monotonic()
    while True:
        now = server_status(lb)
        if all(now.get(s) == status for s in servers):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise LabError(f"HAProxy on {lb.host.name}: {now}, not all {status} in {timeout:.0f} s")
        time.sleep(0.2)


def hosts_for(lab: Lab, spec: str) -> HaHosts:
    """The lab's hosts with ``spec``'s layout: started (after a destroy of a lab with
    another layout) unless they already run."""
    wanted = [(h.name, h.flavour) for h in parse_hosts(spec)]
    names = [n for n, _ in wanted]
    if "lb" not in names or "db" not in names or not any(n.startswith("controller") for n in names):
        raise LabInputError(f"{spec!r}: the ha scenario needs hosts lb, db and controller...",
                       hint=f"stackstep lab deploy --scenario ha --hosts {HA_LAYOUT}")  # fmt: skip
    state = lab.state
    current = [(h.name, h.flavour) for h in state.hosts] if state else []
    status = lab.status()
    if current != wanted or any(h["state"] == "down" for h in status):
        if state is not None:
            lab.destroy()
        lab.up(spec)
        state = lab.state
    assert state is not None
    runners = [lab.runner(h, Path(state.golden)) for h in state.hosts]
    by_name = {r.host.name: r for r in runners}
    return HaHosts(
        lb=by_name["lb"],
        db=by_name["db"],
        controllers=tuple(r for r in runners if "controller" in r.host.roles),
        computes=tuple(r for r in runners if "compute" in r.host.roles),
    )


def _mariadb(db: HostRunner) -> None:
    conf = db.root / "etc/mysql/mariadb.conf.d/98-lab-ha.cnf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(MARIADB_HA)
    base._database(db, [("keystone", "keystone", "keystone")])


def _haproxy(hosts: HaHosts) -> None:
    cfg = hosts.lb.root / "etc/haproxy/haproxy.cfg"
    cfg.write_text(haproxy_config(hosts))
    hosts.lb.exec(["haproxy", "-c", "-q", "-f", "/etc/haproxy/haproxy.cfg"])
    hosts.lb.exec(["systemctl", "enable", "haproxy"])
    hosts.lb.exec(["systemctl", "restart", "haproxy"])


def services_of(runner: HostRunner) -> list[str]:
    return [s for role in runner.host.roles for s in ROLE_SERVICES.get(role, ())]


def _install(lab: Lab, runner: HostRunner) -> None:
    """The old release's repository and the packages of the host's services."""
    wanted = [p for s in services_of(runner) for p in SERVICE_PACKAGES.get(s, ())]
    if not wanted:
        return
    repo = runner.root / f"etc/yum.repos.d/lab-{base.OLD_MODERN}.repo"
    repo.write_text(
        lab.repo(base.OLD_MODERN).rpm_repo_file(lab.repo_url(base.OLD_MODERN), repo.stem)
    )
    runner.exec(["dnf", "-y", "-q", "--refresh", "install", *dict.fromkeys(wanted)])


def _configure_keystone(ctl: HostRunner, db_address: str) -> None:
    """The site's edit of keystone.conf: shared database, 8-hour tokens, health check,
    cache (validating a token uncached costs ~50 ms of CPU: 3 keystones on 2 cores held
    ~20 validations/s; cached, ~250/s)."""
    conf = ctl.root / "etc/keystone/keystone.conf"
    text = conf.read_text().replace(
        "connection = sqlite:////var/lib/keystone/keystone.db",
        f"connection = mysql+pymysql://keystone:keystone@{db_address}/keystone",
    )
    text = text.replace("expiration = 3600", "expiration = 28800" + base.MODERN_EDIT)
    if "[healthcheck]" not in text:
        text += HA_EDIT
    conf.write_text(text)
    auth = ctl.root / keystone.AUTH_FILE.lstrip("/")
    auth.write_text(keystone.token_request() + "\n")
    auth.chmod(0o600)


def copy_keys(source: HostRunner, target: HostRunner) -> None:
    """The key repositories of ``source``, byte for byte with their modes, owned by
    keystone on ``target`` (its uid may differ)."""
    for repo in KEY_REPOSITORIES:
        src, dst = source.root / repo.lstrip("/"), target.root / repo.lstrip("/")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, copy_function=shutil.copy2)
        os.chmod(dst, src.stat().st_mode & 0o7777)
        target.exec(["chown", "-R", "keystone:keystone", repo])


def _keystone(lab: Lab, hosts: HaHosts) -> None:
    first = hosts.controllers[0]
    for ctl in hosts.controllers:
        _configure_keystone(ctl, hosts.db.host.address)
    first.exec(["runuser", "-u", "keystone", "--", "keystone-manage", "db_sync"])
    for setup in ("fernet_setup", "credential_setup"):
        first.exec(["keystone-manage", setup, "--keystone-user", "keystone",
                    "--keystone-group", "keystone"])  # fmt: skip
    for ctl in hosts.controllers[1:]:
        copy_keys(first, ctl)
    url = f"http://{hosts.vip}:{keystone.PORT}/v3/"
    first.exec(
        ["keystone-manage", "bootstrap", "--bootstrap-password", keystone.ADMIN_PASSWORD,
         "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
         "--bootstrap-public-url", url, "--bootstrap-region-id", "RegionOne"]
    )  # fmt: skip
    for ctl in hosts.controllers:
        ctl.exec(["chown", "-R", "keystone:keystone", "/var/log/keystone"])
        ctl.exec(["systemctl", "enable", "--now", "httpd"])
    for ctl in hosts.controllers:
        base.wait_token(ctl)
        ctl.exec(["sh", "-c", VALIDATE_COMMAND])


# service -> installer(lab, hosts): installs, configures and starts it on its hosts
INSTALLERS: dict[str, Callable[[Lab, HaHosts], None]] = {"keystone": _keystone}


def vip_token(lb: HostRunner, vip: str) -> str:
    """A token issued through the VIP from lb (LabError when none is)."""
    done = lb.exec(
        ["curl", "-s", "-i", "-m", "30", "-X", "POST", "-H", "Content-Type: application/json",
         "-d", keystone.token_request(), f"http://{vip}:{keystone.PORT}/v3/auth/tokens"],
        check=False,
    )  # fmt: skip
    found = re.search(r"^X-Subject-Token: (\S+)", done.stdout, re.MULTILINE | re.IGNORECASE)
    if done.returncode != 0 or not found:
        raise LabError(f"no token through the VIP {vip}: {done.stdout[:300]}{done.stderr}")
    return found.group(1)


def vip_validate(lb: HostRunner, vip: str, auth: str, subject: str) -> str:
    """The HTTP status the VIP answers when ``auth`` validates ``subject``."""
    return lb.exec(
        ["curl", "-s", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}",
         "-H", f"X-Auth-Token: {auth}", "-H", f"X-Subject-Token: {subject}",
         f"http://{vip}:{keystone.PORT}/v3/auth/tokens"],
        check=False,
    ).stdout.strip()  # fmt: skip


def _check(hosts: HaHosts) -> None:
    names = [c.host.name for c in hosts.controllers]
    wait_status(hosts.lb, names, "UP", UP_TIMEOUT)
    token = vip_token(hosts.lb, hosts.vip)
    code = vip_validate(hosts.lb, hosts.vip, token, token)
    if code != "200":
        raise LabError(f"a token issued through the VIP {hosts.vip} does not validate: {code}")


def _write_inventory(lab: Lab, hosts: HaHosts) -> Path:
    backends = ", ".join(f"{s}: {b[0]}" for s, b in BACKENDS.items())
    return base.write_modern_inventory(
        lab,
        INVENTORY,
        f"lab-ha-{base.OLD_MODERN}",
        f"vip: {hosts.vip}\nload_balancer:\n  hosts: [{hosts.lb.host.name}]\n"
        f"  socket: {STATS_SOCKET}\n  backends: {{{backends}}}\n",
        VALIDATE_COMMAND,
    )


def openrc(vip: str) -> str:
    return (
        f"export OS_AUTH_URL=http://{vip}:{keystone.PORT}/v3\n"
        "export OS_USERNAME=admin\n"
        f"export OS_PASSWORD={keystone.ADMIN_PASSWORD}\n"
        "export OS_PROJECT_NAME=admin\n"
        "export OS_USER_DOMAIN_ID=default\n"
        "export OS_PROJECT_DOMAIN_ID=default\n"
        "export OS_IDENTITY_API_VERSION=3\n"
    )


def _write_openrc(lab: Lab, vip: str) -> None:
    path = lab.root / OPENRC
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(openrc(vip))
    path.chmod(0o600)


def deploy_ha(lab: Lab, spec: str = HA_LAYOUT) -> Path:
    """Deploy the HA cloud on ``spec``'s hosts (started if needed); its inventory back."""
    hosts = hosts_for(lab, spec)
    state = lab.state
    assert state is not None
    base.publish_modern(lab, Path(state.golden))
    nodes = (*hosts.controllers, *hosts.computes)
    with ThreadPoolExecutor(max_workers=len(nodes) + 2) as pool:
        jobs = [pool.submit(_mariadb, hosts.db), pool.submit(_haproxy, hosts)]
        jobs += [pool.submit(_install, lab, r) for r in nodes]
        for job in jobs:
            job.result()
    services = {s for r in nodes for s in services_of(r)}
    for service in [s for s in INSTALLERS if s in services]:
        INSTALLERS[service](lab, hosts)
    _check(hosts)
    _write_openrc(lab, hosts.vip)
    return _write_inventory(lab, hosts)
