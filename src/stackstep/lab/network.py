"""The lab network: a router namespace holding the bridge (and the package server), and
one namespace per host with a veth into the bridge. No forwarding, no default route:
lab addresses exist only inside namespaces the lab creates."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from stackstep.lab.errors import LabError
from stackstep.lab.system import run

ROUTER_NS = "stlab"
BRIDGE = "stlab0"
SUBNET = ipaddress.IPv4Network("10.254.0.0/24")
ROUTER_IP = str(SUBNET.network_address + 1)
NETNS_DIR = Path("/run/netns")


def host_ip(index: int) -> str:
    return str(SUBNET.network_address + 10 + index)


def host_ns(name: str) -> str:
    return f"stlab-{name}"


def namespaces() -> list[str]:
    return sorted(p.name for p in NETNS_DIR.glob("stlab*")) if NETNS_DIR.exists() else []


def check_subnet_free() -> None:
    """Refuse when the lab subnet is already used on this machine (outside the lab)."""
    addrs = json.loads(run(["ip", "-j", "-4", "addr"]).stdout or "[]")
    for link in addrs:
        for info in link.get("addr_info", []):
            net = ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
            if net.overlaps(SUBNET):
                raise LabError(
                    f"the lab subnet {SUBNET} is already in use on this machine "
                    f"({info['local']} on {link.get('ifname')})",
                    hint="free it; the lab never shares its addresses",
                )
    routes = json.loads(run(["ip", "-j", "-4", "route"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default" and ipaddress.IPv4Network(dst, strict=False).overlaps(SUBNET):
            raise LabError(f"a route to {dst} on this machine overlaps the lab subnet {SUBNET}")


def router_up() -> None:
    if ROUTER_NS in namespaces():
        return
    check_subnet_free()
    run(["ip", "netns", "add", ROUTER_NS])
    ns = ["ip", "-n", ROUTER_NS]
    run([*ns, "link", "set", "lo", "up"])
    run([*ns, "link", "add", BRIDGE, "type", "bridge"])
    run([*ns, "addr", "add", f"{ROUTER_IP}/{SUBNET.prefixlen}", "dev", BRIDGE])
    run([*ns, "link", "set", BRIDGE, "up"])
    run(["ip", "netns", "exec", ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=0"])


def host_link_up(name: str, index: int) -> None:
    ns = host_ns(name)
    if ns in namespaces():
        return
    veth = f"stv{index}"
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "netns", ROUTER_NS])
    run(["ip", "-n", ROUTER_NS, "link", "set", veth, "master", BRIDGE, "up"])
    run(["ip", "-n", ns, "addr", "add", f"{host_ip(index)}/{SUBNET.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])


def set_link(name: str, up: bool) -> None:
    """Fault hook: pull (or plug back) a host's cable."""
    run(["ip", "-n", host_ns(name), "link", "set", "eth0", "up" if up else "down"])


def host_link_down(name: str) -> None:
    if host_ns(name) in namespaces():
        run(["ip", "netns", "del", host_ns(name)], check=False)


def router_down() -> None:
    if ROUTER_NS in namespaces():
        run(["ip", "netns", "del", ROUTER_NS], check=False)
