"""`stackstep lab ...`: the lab cloud on this machine (docs/lab.md). Needs root."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from stackstep.cli import options as opt
from stackstep.cli.main import handle_errors
from stackstep.lab import faults, network
from stackstep.lab.lab import SEED_LAYOUT, Lab
from stackstep.lab.openstack.deploy import SCENARIOS
from stackstep.lab.openstack.deploy import deploy as deploy_cloud
from stackstep.lab.openstack.ha import HA_LAYOUT
from stackstep.lab.system import require_root


@click.group()
def lab() -> None:
    """Real multi-host machines on this computer: systemd-nspawn hosts with SSH,
    package repositories and their own network. Needs root."""


@lab.command()
@click.option(
    "--hosts",
    "spec",
    default=SEED_LAYOUT,
    show_default=True,
    help="host names, comma-separated; NAME:deb for an apt host (default rpm/dnf).",
)
@handle_errors
def up(spec: str) -> None:
    """Start the lab (builds the golden image on first use)."""
    the_lab = Lab()
    if not the_lab.golden_cached():
        click.echo("building the golden image (debootstrap, once; a few minutes)...")
    timings = the_lab.up(spec)
    for host in the_lab.status():
        click.echo(f"{host['name']:<12} {host['address']:<12} {host['flavour']:<4} {host['state']}")
    if timings["golden_build_s"]:
        click.echo(f"golden image built in {timings['golden_build_s']:.1f} s")
    click.echo(f"lab up in {timings['total_s']:.1f} s")
    click.echo(f"inventory: {the_lab.inventory}  (stackstep discover -i {the_lab.inventory})")


@lab.command()
@opt.as_json()
@handle_errors
def status(as_json: bool) -> None:
    """Each lab host's address, flavour and systemd state."""
    require_root()
    hosts = Lab().status()
    if as_json:
        click.echo(json.dumps({"hosts": hosts}, indent=2))
        return
    if not hosts:
        click.echo("the lab is down")
    for h in hosts:
        click.echo(f"{h['name']:<12} {h['address']:<12} {h['flavour']:<4} {h['state']}")


@lab.command(context_settings={"ignore_unknown_options": True})
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@handle_errors
def ssh(host: str, command: tuple[str, ...]) -> None:
    """SSH into a lab host (real SSH, host key checked)."""
    require_root()
    the_lab = Lab()
    runner = the_lab.host(host)
    argv = [
        "ip",
        "netns",
        "exec",
        network.ROUTER_NS,
        "ssh",
        "-i",
        str(the_lab.client_key),
        "-o",
        f"UserKnownHostsFile={the_lab.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        f"root@{runner.host.address}",
        *command,
    ]
    os.execvp(argv[0], argv)


@lab.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("host")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def exec_(host: str, command: tuple[str, ...]) -> None:
    """Run a command inside a lab host (no SSH): stackstep lab exec HOST -- CMD..."""
    require_root()
    proc = Lab().host(host).exec(list(command), check=False)
    click.echo(proc.stdout, nl=False)
    click.echo(proc.stderr, nl=False, err=True)
    raise SystemExit(proc.returncode)


@lab.command()
@handle_errors
def down(**_: Any) -> None:
    """Power every host off cleanly; remove mounts and namespaces. State is kept."""
    Lab().down()
    click.echo("lab down")


@lab.command()
@handle_errors
def destroy() -> None:
    """Like down, and remove the lab's state (the golden image cache stays)."""
    Lab().destroy()
    click.echo("lab destroyed")


@lab.command()
@click.argument("host")
@click.argument("fault", type=click.Choice(faults.FAULTS))
@handle_errors
def fault(host: str, fault: str) -> None:
    """Inject or clear a fault on a host: link-down/up, sshd-stop/start, fill-disk/free-disk,
    power-off/on."""
    require_root()
    click.echo(faults.apply(Lab(), host, fault))


@lab.command()
@click.option(
    "--scenario",
    type=click.Choice(SCENARIOS),
    default="havana",
    show_default=True,
    help="havana: a Grizzly cloud (the seed's RDO layout) to upgrade to Havana; "
    "modern: real keystone 28.1.0 (2025.2) on the controller, to upgrade to 29.1.0 (2026.1); "
    "ha: that keystone on 3 controllers behind HAProxy on lb, MariaDB on db.",
)
@click.option(
    "--hosts",
    "spec",
    default=None,
    help=f"lab hosts to start if the lab is down [default: {SEED_LAYOUT}; ha: {HA_LAYOUT}, "
    "and a lab up with another layout is destroyed first].",
)
@click.option(
    "--flavour",
    type=click.Choice(["rpm", "deb"]),
    default=None,
    help="ha: the hosts' flavour, rpm (RDO-style: dnf, .rpmnew) or deb (Ubuntu-style: apt, "
    ".dpkg-dist, maintainer scripts that restart units) [default: rpm].",
)
@handle_errors
def deploy(scenario: str, spec: str | None, flavour: str | None) -> None:
    """Install and start the old release on the lab hosts; write its inventory."""
    require_root()
    done = deploy_cloud(Lab(), scenario, spec, flavour)
    click.echo(f"deployed in {done.seconds:.1f} s; inventory: {done.inventory}")
    site = done.inventory.parent / "catalog-ha.toml"  # the lab's catalog differences (ha)
    extra = f" --catalog {site}" if scenario == "ha" and site.exists() else ""
    click.echo(f"next: stackstep upgrade -i {done.inventory}{extra}")
