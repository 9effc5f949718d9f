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
every endpoint; keystone started everywhere. Then the modern stand-ins (``modern.py``:
glance, placement, nova, neutron, cinder of flamingo, published beside keystone): their
site configs, their databases migrated once with the old code (controller1), every unit
started. Then the end check from lb: HAProxy shows every server of every backend UP and
a token issued through the VIP validates. Last, the inventory (``cloud-ha.yaml``, with
``vip:`` and ``load_balancer:``), the site catalog (``catalog-ha.toml``: where the lab
differs from the shipped catalog) and ``openrc-ha``.
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
from stackstep.lab.openstack import keystone, modern

HA_LAYOUT = "lb,controller1,controller2,controller3,db,compute1,compute2"
STANDINS = ("glance", "placement", "nova", "neutron", "cinder")
# what each role runs in this scenario (a later stand-in adds itself here and to INSTALLERS)
ROLE_SERVICES: dict[str, tuple[str, ...]] = {
    "controller": ("keystone", *STANDINS),
    "compute": ("nova", "neutron"),
}
# the inventory's roles of each lab role (the controllers also run neutron's agents and
# cinder-volume, as modern.ROLE_COMPONENTS says)
INVENTORY_ROLES = {"controller": "[controller, network, block-storage]"}
# what each service installs on its hosts (from the old release's repository), by
# flavour; the stand-ins install what modern.role_packages says for the host's role
SERVICE_PACKAGES = {"keystone": {f: (keystone.package_name(f),) for f in keystone.FLAVOURS}}
# a deb host's maintainer scripts start what they install: denied while the lab installs
# (as in container images), so nothing starts before its site config is written
POLICY_RC_D = "/usr/sbin/policy-rc.d"
# dpkg fsyncs every file it unpacks; rpm does not. keystone's venv is thousands of files:
# 17 s inside a deb node's upgrade against ~4 s with rpm, while the other nodes' keystones
# share this machine's cores (token issues then time out at the VIP). A lab host's disk is
# a throwaway overlay, so it unpacks as container image builds do.
DPKG_UNSAFE_IO = "/etc/dpkg/dpkg.cfg.d/lab-unsafe-io"
DPKG_UNSAFE_IO_TEXT = (
    "# stackstep lab: a throwaway overlay disk; no fsync per file\nforce-unsafe-io\n"
)
# service -> (HAProxy frontend/backend name, port, health URL path); every API runs on
# the controllers. glance, cinder and neutron honour their /healthcheck disable files;
# placement and nova-api have no /healthcheck (kolla checks GET /): drained by socket
BACKENDS = {
    "keystone": ("keystone", keystone.PORT, "/healthcheck"),
    "glance": ("glance", 9292, "/healthcheck"),
    "placement": ("placement", 8778, "/"),
    "nova": ("nova", 8774, "/"),
    "neutron": ("neutron", 9696, "/healthcheck"),
    "cinder": ("cinder", 8776, "/healthcheck"),
}
API_ROLE = "controller"
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
    """HAProxy's whole config: one frontend on lb's address per API, one backend each
    with every controller as a server named like its inventory host."""
    parts = [HAPROXY_GLOBAL]
    for service, (name, port, path) in BACKENDS.items():
        if service not in ROLE_SERVICES.get(API_ROLE, ()):
            continue
        servers = hosts.with_role(API_ROLE)
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


def wait_status(
    lb: HostRunner, servers: list[str], status: str, timeout: float, backend: str = "keystone"
) -> float:
    """Seconds until every one of ``servers`` of ``backend`` shows ``status``; LabError
    after ``timeout``."""
    started = time.monotonic()
    while True:
        now = server_status(lb, backend)
        if all(now.get(s) == status for s in servers):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise LabError(
                f"HAProxy on {lb.host.name}: {backend} {now}, not all {status} in {timeout:.0f} s"
            )
        time.sleep(0.2)


def layout(spec: str | None, flavour: str | None) -> str:
    """``spec`` (default: :data:`HA_LAYOUT`) with ``flavour`` for every host that names
    none (``--flavour deb``: Ubuntu-style hosts)."""
    items = (spec or HA_LAYOUT).split(",")
    if flavour is None:
        return ",".join(items)
    return ",".join(i if ":" in i else f"{i}:{flavour}" for i in items)


def _check_layout(spec: str) -> None:
    hosts = parse_hosts(spec)
    names = [h.name for h in hosts]
    if "lb" not in names or "db" not in names or not any(n.startswith("controller") for n in names):
        raise LabInputError(f"{spec!r}: the ha scenario needs hosts lb, db and controller...",
                       hint=f"stackstep lab deploy --scenario ha --hosts {HA_LAYOUT}")  # fmt: skip
    # one repository command for the whole inventory: the OpenStack nodes share a flavour
    flavours = {h.flavour for h in hosts if set(h.roles) & set(ROLE_SERVICES)}
    if len(flavours) > 1:
        raise LabInputError(f"{spec!r}: the controllers and computes mix rpm and deb hosts",
                       hint="give them one flavour: --flavour rpm or --flavour deb")  # fmt: skip


def hosts_for(lab: Lab, spec: str) -> HaHosts:
    """The lab's hosts with ``spec``'s layout: started (after a destroy of a lab with
    another layout) unless they already run."""
    _check_layout(spec)
    wanted = [(h.name, h.flavour) for h in parse_hosts(spec)]
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
    standins = [(service, name, service) for service, _, name in modern.DATABASES]
    base._database(db, [("keystone", "keystone", "keystone"), *standins])


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
    flavour = runner.host.flavour
    here = services_of(runner)
    wanted = [p for s in here for p in SERVICE_PACKAGES.get(s, {}).get(flavour, ())]
    for role in runner.host.roles:
        if set(ROLE_SERVICES.get(role, ())) & set(STANDINS):
            wanted += modern.role_packages(flavour, role)
    if not wanted:
        return
    repo, url = lab.repo(base.OLD_MODERN), lab.repo_url(base.OLD_MODERN)
    if flavour == "rpm":
        path = runner.root / f"etc/yum.repos.d/lab-{base.OLD_MODERN}.repo"
        path.write_text(repo.rpm_repo_file(url, path.stem))
        runner.exec(["dnf", "-y", "-q", "--refresh", "install", *dict.fromkeys(wanted)])
        return
    path = runner.root / f"etc/apt/sources.list.d/lab-{base.OLD_MODERN}.list"
    path.write_text(repo.apt_source_line(url) + "\n")
    unsafe = runner.root / DPKG_UNSAFE_IO.lstrip("/")
    unsafe.parent.mkdir(parents=True, exist_ok=True)
    unsafe.write_text(DPKG_UNSAFE_IO_TEXT)
    policy = runner.root / POLICY_RC_D.lstrip("/")
    policy.write_text(
        "#!/bin/sh\n# stackstep lab: nothing starts while the lab installs\nexit 101\n"
    )
    policy.chmod(0o755)
    try:
        runner.exec(["apt-get", "-q", "update"])
        runner.exec(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q",
                     "install", *dict.fromkeys(wanted)])  # fmt: skip
    finally:
        policy.unlink()


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
        ctl.exec(["systemctl", "enable", "--now", keystone.unit(ctl.host.flavour)])
    for ctl in hosts.controllers:
        base.wait_token(ctl)
        ctl.exec(["sh", "-c", VALIDATE_COMMAND])


# the old code's database steps, run once from controller1 as each service's user
STANDIN_MIGRATIONS = (
    ("glance", ("glance-manage", "db", "sync")),
    ("placement", ("placement-manage", "db", "sync")),
    ("nova", ("nova-manage", "api_db", "sync")),
    ("nova", ("nova-manage", "db", "sync")),
    ("neutron", ("neutron-db-manage", "--config-file", "/etc/neutron/neutron.conf",
                 "--config-file", "/etc/neutron/plugin.ini", "upgrade", "heads")),
    ("cinder", ("cinder-manage", "db", "sync")),
)  # fmt: skip


def _standin_services(runner: HostRunner) -> list[str]:
    return [s for s in services_of(runner) if s in STANDINS]


def _configure_standins(runner: HostRunner, db_address: str) -> None:
    """The site's configs of the host's stand-ins: the databases on ``db`` (and nova's
    service user token); the packaged defaults stay as shipped, so the upgrade meets
    ``.rpmnew`` files as with keystone."""
    for service in dict.fromkeys(_standin_services(runner)):
        for path, text in modern.site_config(service, base.OLD_MODERN, db_address).items():
            target = runner.root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


def _start_standins(runner: HostRunner) -> None:
    """Every stand-in unit of the host's role, enabled and started in start order (Type=
    notify: ready once its checks passed)."""
    units = [u for role in runner.host.roles if role in modern.ROLE_COMPONENTS
             for u in modern.role_units(runner.host.flavour, role)]  # fmt: skip
    if units:
        runner.exec(["systemctl", "enable", "--now", *dict.fromkeys(units)])


def _standins(lab: Lab, hosts: HaHosts) -> None:
    """glance, placement, nova, neutron, cinder of flamingo on their hosts: configs, the
    databases migrated with the old code from controller1, every unit started (the
    controllers' first: nova-compute registers with the cell database they created)."""
    nodes = (*hosts.controllers, *hosts.computes)
    for runner in nodes:
        _configure_standins(runner, hosts.db.host.address)
    first = hosts.controllers[0]
    for service, argv in STANDIN_MIGRATIONS:
        first.exec(["runuser", "-u", service, "--", *argv])
    with ThreadPoolExecutor(max_workers=len(hosts.controllers)) as pool:
        list(pool.map(_start_standins, hosts.controllers))
    with ThreadPoolExecutor(max_workers=max(1, len(hosts.computes))) as pool:
        list(pool.map(_start_standins, hosts.computes))


# service -> installer(lab, hosts): installs, configures and starts it on its hosts (an
# installer shared by services runs once)
INSTALLERS: dict[str, Callable[[Lab, HaHosts], None]] = {
    "keystone": _keystone,
    **dict.fromkeys(STANDINS, _standins),
}


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
    for service, (backend, _, _) in BACKENDS.items():
        if service in ROLE_SERVICES.get(API_ROLE, ()):
            wait_status(hosts.lb, names, "UP", UP_TIMEOUT, backend)
    token = vip_token(hosts.lb, hosts.vip)
    code = vip_validate(hosts.lb, hosts.vip, token, token)
    if code != "200":
        raise LabError(f"a token issued through the VIP {hosts.vip} does not validate: {code}")


# how each flavour's hosts enable the new release (the packages publish_modern adds)
REPO_COMMANDS = {
    "rpm": f"[dnf, -y, install, rdo-release-{base.NEW_MODERN}]",
    "deb": f"[apt-get, install, -y, lab-cloud-archive-{base.NEW_MODERN}]",
}


def _write_inventory(lab: Lab, hosts: HaHosts) -> Path:
    running = set(ROLE_SERVICES.get(API_ROLE, ()))
    backends = ", ".join(f"{s}: {b[0]}" for s, b in BACKENDS.items() if s in running)
    enable = REPO_COMMANDS[hosts.controllers[0].host.flavour]
    path = base.write_modern_inventory(
        lab,
        INVENTORY,
        f"lab-ha-{base.OLD_MODERN}",
        f"vip: {hosts.vip}\nload_balancer:\n  hosts: [{hosts.lb.host.name}]\n"
        f"  socket: {STATS_SOCKET}\n  backends: {{{backends}}}\n",
        VALIDATE_COMMAND,
        enable,
    )
    text = path.read_text()
    for role, roles in INVENTORY_ROLES.items():
        text = text.replace(f"roles: [{role}]\n", f"roles: {roles}\n")
    path.write_text(text)
    return path


# The lab's differences from the shipped catalog (modern.toml): placement and cinder-api
# run in their own units (the lab's httpd.service/apache2.service is keystone's gunicorn).
# `--catalog` this file.
CATALOG = "catalog-ha.toml"
SHIPPED_SERIES = "catalog/data/series/modern.toml"
# service -> (component, shipped units line, title line or "" (left as shipped))
OWN_UNITS = {
    "placement": (
        "api",
        'httpd = true\nunits = { rpm = ["httpd"], deb = ["apache2"] }',
        'title = "Placement (in httpd/apache2)"',
    ),
    "cinder": ("api", 'units = { rpm = ["openstack-cinder-api"], deb = ["apache2"] }', ""),
}


def _own_units(blocks: list[str], service: str) -> str:
    """The shipped ``[[service]]`` block of ``service`` with its API in the stand-in's
    own unit (LabError when the shipped catalog no longer reads as expected)."""
    component, old, title = OWN_UNITS[service]
    block = next((b for b in blocks if b.startswith(f'name = "{service}"\n')), None)
    if block is None or block.count(old) != 1 or (title and title not in block):
        raise LabError(f"the shipped {SHIPPED_SERIES} no longer has {service}'s {old!r}")
    block = block.split("\n# ----")[0].rstrip() + "\n"
    units = {f: modern.unit_name(f, service, component) for f in modern.FLAVOURS}
    new = f'units = {{ rpm = ["{units["rpm"]}"], deb = ["{units["deb"]}"] }}'
    if title:
        block = block.replace(title, title.split(" (")[0] + ' (lab: in its own unit)"')
    return "[[service]]\n" + block.replace(old, new)


def site_catalog() -> str:
    """The site catalog override of the lab (docs/catalog.md, "Overriding"): the shipped
    placement and cinder services with the stand-ins' own API units instead of
    httpd/apache2."""
    from importlib import resources  # noqa: PLC0415

    shipped = resources.files("stackstep").joinpath(SHIPPED_SERIES).read_text()
    blocks = shipped.split("\n[[service]]\n")
    return (
        "# written by `stackstep lab deploy --scenario ha`: where the lab differs from the\n"
        "# shipped catalog (pass it with --catalog). The stand-in placement and cinder-api\n"
        "# run in their own units: the lab's httpd.service (apache2.service on deb hosts)\n"
        "# is keystone's gunicorn.\n"
        'series = "modern"\n\n' + "\n".join(_own_units(blocks, s) for s in OWN_UNITS)
    )


def _write_catalog(lab: Lab) -> Path:
    path = lab.root / CATALOG
    path.write_text(site_catalog())
    return path


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


def publish_standins(lab: Lab, flavours: tuple[str, ...] = ("rpm",)) -> None:
    """The stand-ins of flamingo and gazpacho in each of ``flavours``, each into keystone's
    repository of that release (those already published are left as they are)."""
    for release in (base.OLD_MODERN, base.NEW_MODERN):
        repo = lab.repo(release)
        for flavour in flavours:
            path = repo.rpm_path if flavour == "rpm" else repo.deb_path
            specs = [s for s in modern.release_packages(release, flavour)
                     if not path(s).exists()]  # fmt: skip
            if specs:
                repo.release(specs, (flavour,))


def deploy_ha(lab: Lab, spec: str = HA_LAYOUT) -> Path:
    """Deploy the HA cloud on ``spec``'s hosts (started if needed); its inventory back."""
    hosts = hosts_for(lab, spec)
    state = lab.state
    assert state is not None
    nodes = (*hosts.controllers, *hosts.computes)
    flavours = tuple(sorted({r.host.flavour for r in nodes}))
    base.publish_modern(lab, Path(state.golden), flavours)
    publish_standins(lab, flavours)
    with ThreadPoolExecutor(max_workers=len(nodes) + 2) as pool:
        jobs = [pool.submit(_mariadb, hosts.db), pool.submit(_haproxy, hosts)]
        jobs += [pool.submit(_install, lab, r) for r in nodes]
        for job in jobs:
            job.result()
    services = {s for r in nodes for s in services_of(r)}
    for installer in dict.fromkeys(INSTALLERS[s] for s in INSTALLERS if s in services):
        installer(lab, hosts)
    _check(hosts)
    _write_openrc(lab, hosts.vip)
    _write_catalog(lab)
    return _write_inventory(lab, hosts)
