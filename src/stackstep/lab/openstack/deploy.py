"""`stackstep lab deploy`: a Grizzly cloud on the lab hosts, ready to be upgraded.

Steps: publish the Grizzly and Havana packages into two lab repositories (Havana's is
enabled on a host only by installing ``rdo-release-havana``, as on RDO); point every
host at the Grizzly one; install each role's packages; start MariaDB on the controller
and create the databases; migrate them to Grizzly; seed keystone with many expired
tokens (Grizzly never purged them); make the local config edits an operator makes (so
the upgrade meets ``.rpmnew``/``.rpmsave`` files); start every service; write an
inventory stackstep can upgrade.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackstep.lab.errors import LabError
from stackstep.lab.hosts import HostRunner
from stackstep.lab.lab import SEED_LAYOUT, Lab
from stackstep.lab.openstack import packages

SCENARIOS = ("havana",)
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
    preset = runner.root / "etc/systemd/system-preset/50-lab.preset"
    preset.parent.mkdir(parents=True, exist_ok=True)
    preset.write_text(packages.unit_preset(runner.host.roles))
    wanted = [p for role in runner.host.roles for p in packages.role_packages("grizzly", role)]
    wanted.append("kernel")
    runner.exec(["dnf", "-y", "-q", "--refresh", "install", *dict.fromkeys(wanted)])


def _database(ctl: HostRunner) -> None:
    conf = ctl.root / "etc/mysql/mariadb.conf.d/99-lab.cnf"
    conf.write_text("[mysqld]\nbind-address = 0.0.0.0\n")
    ctl.exec(["systemctl", "enable", "--now", "mariadb"])
    sql = []
    for _, database, user in packages.DATABASES:
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


def deploy(lab: Lab, scenario: str = "havana", spec: str = SEED_LAYOUT) -> Deployed:
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}", hint="scenarios: " + ", ".join(SCENARIOS))
    started = time.monotonic()
    if not lab.status() or any(h["state"] == "down" for h in lab.status()):
        lab.up(spec)
    publish(lab)
    state = lab.state
    assert state is not None
    runners = [lab.runner(h, Path(state.golden)) for h in state.hosts]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda r: _install(r, lab), runners))
    controller = next((r for r in runners if "controller" in r.host.roles), None)
    if controller is None:
        raise LabError("the havana scenario needs a host named controller...")
    _database(controller)
    _migrate(controller)
    for runner in runners:
        _edit(runner)
        _start(runner)
    inventory = _write_inventory(lab)
    return Deployed(inventory, time.monotonic() - started)


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
