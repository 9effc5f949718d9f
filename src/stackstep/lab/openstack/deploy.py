"""`stackstep lab deploy`: a cloud on the lab hosts, ready to be upgraded.

Scenario ``havana`` (Grizzly stand-ins, to be upgraded to Havana), steps: publish the
Grizzly and Havana packages into two lab repositories (Havana's is enabled on a host
only by installing ``rdo-release-havana``, as on RDO); point every host at the Grizzly
one; install each role's packages; start MariaDB on the controller and create the
databases; migrate them to Grizzly; seed keystone with many expired tokens (Grizzly
never purged them); make the local config edits an operator makes (so the upgrade meets
``.rpmnew``/``.rpmsave`` files); start every service; write an inventory stackstep can
upgrade.

Scenario ``modern`` (real keystone 28.1.0 of 2025.2 "flamingo", to be upgraded to 29.1.0 of
2026.1 "gazpacho"): build or reuse the keystone RPMs (``keystone.py``), publish them in
two repositories, install the old one on the controller with MariaDB, make the site's
config edit, migrate, bootstrap an admin, start keystone and check it issues a token.

Scenario ``ha`` (``ha.py``): the same keystone on three controllers behind HAProxy, MariaDB
on its own host.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackstep.lab.errors import LabError, LabInputError
from stackstep.lab.hosts import HostRunner
from stackstep.lab.lab import SEED_LAYOUT, Lab
from stackstep.lab.openstack import keystone, packages

SCENARIOS = ("havana", "modern", "ha")
OLD_KERNEL, NEW_KERNEL = "70.13.1", "162.6.1"
EXPIRED_TOKENS = 20000
MIGRATIONS = (
    ("keystone-manage", "db_sync"),
    ("glance-manage", "db_sync"),
    ("cinder-manage", "db", "sync"),
    ("nova-manage", "db", "sync"),
)
# The operator's own edits: each survives the upgrade; the new default lands beside it.
EDITS = {
    "/etc/keystone/keystone.conf": "\n# site: tokens live 8 hours\n[token]\nexpiration = 28800\n",
    "/etc/nova/nova.conf": "\n# site: more workers\n[DEFAULT]\nosapi_compute_workers = 4\n",
    "/etc/quantum/quantum.conf": "\n# site: debug while migrating\n[DEFAULT]\ndebug = True\n",
    "/etc/openstack-dashboard/local_settings": "\nSECRET_KEY = 'lab-site-secret'\n",
}


@dataclass(frozen=True)
class Deployed:
    inventory: Path
    seconds: float


def publish(lab: Lab) -> None:
    """Both releases' packages, each into its own repository."""
    for release, kernel in (("grizzly", OLD_KERNEL), ("havana", NEW_KERNEL)):
        specs = [*packages.release_packages(release), packages.kernel_package(kernel)]
        if release == "grizzly":
            specs.append(packages.release_repo_package("havana", lab.repo_url("havana")))
        repo = lab.repo(release)
        if not (repo.rpm_dir / "repodata").exists():
            repo.release(specs)


def _install(runner: HostRunner, lab: Lab) -> None:
    repo = runner.root / "etc/yum.repos.d/lab-grizzly.repo"
    repo.write_text(lab.repo("grizzly").rpm_repo_file(lab.repo_url("grizzly"), "lab-grizzly"))
    # keep downloaded packages, as sites with a local cache do: the old package's default
    # config is then the base of `stackstep configs merge` (a three-way merge)
    dnf_conf = runner.root / "etc/dnf/dnf.conf"
    text = dnf_conf.read_text() if dnf_conf.exists() else "[main]\n"
    if "keepcache" not in text:
        dnf_conf.write_text(text.replace("[main]\n", "[main]\nkeepcache=True\n", 1))
    preset = runner.root / "etc/systemd/system-preset/50-lab.preset"
    preset.parent.mkdir(parents=True, exist_ok=True)
    preset.write_text(packages.unit_preset(runner.host.roles))
    wanted = [p for role in runner.host.roles for p in packages.role_packages("grizzly", role)]
    wanted.append("kernel")
    runner.exec(["dnf", "-y", "-q", "--refresh", "install", *dict.fromkeys(wanted)])


def _database(ctl: HostRunner, databases: list[tuple[str, str, str]]) -> None:
    conf = ctl.root / "etc/mysql/mariadb.conf.d/99-lab.cnf"
    conf.write_text("[mysqld]\nbind-address = 0.0.0.0\n")
    ctl.exec(["systemctl", "enable", "--now", "mariadb"])
    sql = []
    for _, database, user in databases:
        sql += [
            f"CREATE DATABASE IF NOT EXISTS {database};",
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{user}';",
            f"GRANT ALL ON {database}.* TO '{user}'@'%';",
        ]
    ctl.exec(["mysql", "-e", " ".join(sql)])


def _migrate(ctl: HostRunner) -> None:
    for argv in MIGRATIONS:
        ctl.exec(list(argv))
    seed = (
        "INSERT IGNORE INTO token (id, expires, extra, valid) SELECT CONCAT('expired-', seq), "
        '\'2013-01-01 00:00:00\', \'{"user": {"id": "u1"}}\', 1 '
        f"FROM seq_1_to_{EXPIRED_TOKENS};"
    )
    ctl.exec(["mysql", "keystone", "-e", seed])


def _edit(runner: HostRunner) -> None:
    for path, text in EDITS.items():
        target = runner.root / path.lstrip("/")
        if target.exists():
            with target.open("a") as out:
                out.write(text)


def _start(runner: HostRunner) -> None:
    units = runner.exec(
        [
            "sh",
            "-c",
            "systemctl list-unit-files --state=enabled --no-legend "
            "'openstack-*' 'quantum-*' 'httpd*' | cut -d' ' -f1",
        ]
    ).stdout.split()
    if units:
        runner.exec(["systemctl", "start", *units])


def deploy(
    lab: Lab, scenario: str = "havana", spec: str | None = None, flavour: str | None = None
) -> Deployed:
    """Deploy ``scenario`` on the hosts of ``spec`` (default: the scenario's layout);
    ``flavour`` (ha only): every host that names none is rpm or deb."""
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}", hint="scenarios: " + ", ".join(SCENARIOS))
    if flavour is not None and scenario != "ha":
        raise LabInputError(
            f"--flavour is for --scenario ha; the {scenario} scenario takes flavours per host",
            hint=f"stackstep lab deploy --scenario {scenario} --hosts controller,compute1:deb",
        )
    started = time.monotonic()
    if scenario == "ha":
        from stackstep.lab.openstack import ha  # noqa: PLC0415  (ha.py builds on this module)

        inventory = ha.deploy_ha(lab, ha.layout(spec, flavour))
        return Deployed(inventory, time.monotonic() - started)
    spec = spec or SEED_LAYOUT
    if not lab.status() or any(h["state"] == "down" for h in lab.status()):
        lab.up(spec)
    state = lab.state
    assert state is not None
    runners = [lab.runner(h, Path(state.golden)) for h in state.hosts]
    controller = next((r for r in runners if "controller" in r.host.roles), None)
    if controller is None:
        raise LabError(
            f"the {scenario} scenario needs a host named controller...",
            hint=f"stackstep lab down, then stackstep lab deploy --hosts {SEED_LAYOUT}",
        )
    if scenario == "modern":
        inventory = _deploy_modern(lab, controller, Path(state.golden))
        return Deployed(inventory, time.monotonic() - started)
    publish(lab)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda r: _install(r, lab), runners))
    _database(controller, packages.DATABASES)
    _migrate(controller)
    for runner in runners:
        _edit(runner)
        _start(runner)
    inventory = _write_inventory(lab)
    return Deployed(inventory, time.monotonic() - started)


# --- modern: real keystone -----------------------------------------------------------

OLD_MODERN, NEW_MODERN = "flamingo", "gazpacho"
MODERN_EDIT = "\n# site: tokens live 8 hours\n"


def publish_modern(lab: Lab, golden: Path, flavours: tuple[str, ...] = ("rpm",)) -> None:
    """keystone 28.1.0 and 29.1.0, each in its release's repository, and in the old one
    the package that enables the new one (rpm: rdo-release-gazpacho; deb:
    lab-cloud-archive-gazpacho), in each of ``flavours``."""
    log = lab.root / "keystone-build.log"
    number, _ = keystone.RELEASES[NEW_MODERN]
    url = lab.repo_url(NEW_MODERN)
    enabling = {
        "rpm": packages.release_repo_package(NEW_MODERN, url, number),
        "deb": packages.apt_release_package(NEW_MODERN, url, number),
    }
    for release in (OLD_MODERN, NEW_MODERN):
        repo = lab.repo(release)
        _, version = keystone.RELEASES[release]
        for flavour in flavours:
            folder = repo.rpm_dir if flavour == "rpm" else repo.deb_dir
            if any(folder.glob(f"{keystone.package_name(flavour)}[-_]{version}*.{flavour}")):
                continue
            repo.add([keystone.ensure_package(lab.cache, golden, version, flavour, log)])
            if release == OLD_MODERN:
                repo.release([enabling[flavour]], (flavour,))
    keystone.prune(lab.cache, golden)


def _keystone_manage(ctl: HostRunner, *args: str) -> None:
    ctl.exec(["keystone-manage", *args])


def _deploy_modern(lab: Lab, ctl: HostRunner, golden: Path) -> Path:
    publish_modern(lab, golden)
    repo = ctl.root / f"etc/yum.repos.d/lab-{OLD_MODERN}.repo"
    repo.write_text(lab.repo(OLD_MODERN).rpm_repo_file(lab.repo_url(OLD_MODERN), repo.stem))
    ctl.exec(["dnf", "-y", "-q", "--refresh", "install", "openstack-keystone"])
    _database(ctl, [("keystone", "keystone", "keystone")])
    conf = ctl.root / "etc/keystone/keystone.conf"
    text = conf.read_text().replace(
        "connection = sqlite:////var/lib/keystone/keystone.db",
        "connection = mysql+pymysql://keystone:keystone@127.0.0.1/keystone",
    )
    conf.write_text(text.replace("expiration = 3600", "expiration = 28800" + MODERN_EDIT))
    ctl.exec(["runuser", "-u", "keystone", "--", "keystone-manage", "db_sync"])
    for setup in ("fernet_setup", "credential_setup"):
        _keystone_manage(ctl, setup, "--keystone-user", "keystone", "--keystone-group", "keystone")
    url = f"http://{ctl.host.address}:{keystone.PORT}/v3/"
    _keystone_manage(
        ctl, "bootstrap", "--bootstrap-password", keystone.ADMIN_PASSWORD,
        "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
        "--bootstrap-public-url", url, "--bootstrap-region-id", "RegionOne",
    )  # fmt: skip
    ctl.exec(["chown", "-R", "keystone:keystone", "/var/log/keystone"])
    auth = ctl.root / keystone.AUTH_FILE.lstrip("/")
    auth.write_text(keystone.token_request() + "\n")
    auth.chmod(0o600)
    ctl.exec(["systemctl", "enable", "--now", "httpd"])
    wait_token(ctl)
    return write_modern_inventory(lab)


def wait_token(ctl: HostRunner, timeout: float = 90.0) -> None:
    """Wait until keystone on ``ctl`` issues a token (LabError with its log after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while ctl.exec(["sh", "-c", keystone_token_command()], check=False).returncode != 0:
        if time.monotonic() > deadline:
            unit = keystone.unit(ctl.host.flavour)
            log = ctl.exec(["journalctl", "-u", unit, "-n", "20", "--no-pager"], check=False)
            raise LabError(f"keystone on {ctl.host.name} issues no token:\n{log.stdout}")
        time.sleep(0.5)


def keystone_token_command(address: str = "127.0.0.1") -> str:
    """A shell command that asks keystone for a token (exit 0 when one is issued)."""
    return (
        "curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' "
        f"-d @{keystone.AUTH_FILE} http://{address}:{keystone.PORT}/v3/auth/tokens"
    )


def write_modern_inventory(
    lab: Lab,
    name: str = "cloud-modern.yaml",
    cloud: str = f"lab-{OLD_MODERN}",
    extra: str = "",
    smoke: str | None = None,
    repo_command: str = f"[dnf, -y, install, rdo-release-{NEW_MODERN}]",
) -> Path:
    """The lab's inventory as a flamingo cloud to upgrade to gazpacho, plus ``extra`` keys;
    keystone's smoke check is ``smoke`` (default: a token is issued)."""
    text = lab.inventory.read_text().replace(
        "cloud: lab",
        f"cloud: {cloud}\nrelease: {OLD_MODERN}\ntarget: {NEW_MODERN}\n"
        f"repo_command: {repo_command}\n{extra}"
        "smoke:\n  keystone:\n"
        f"    - {json.dumps(smoke or keystone_token_command())}",
    )
    path = lab.root / name
    path.write_text(text)
    return path


def _write_inventory(lab: Lab) -> Path:
    text = lab.inventory.read_text()
    text = text.replace(
        "cloud: lab",
        "cloud: lab-grizzly\nrelease: grizzly\ntarget: havana\n"
        "repo_command: [dnf, -y, install, rdo-release-havana]",
    )
    text = text.replace("package_manager: dnf", "package_manager: yum")
    path = lab.root / "cloud-havana.yaml"
    path.write_text(text)
    return path
