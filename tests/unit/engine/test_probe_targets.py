"""What a run probes: each verify step's API on its host, and the inventory's endpoints
(``endpoints:`` or ``vip:``), read from a real example plan."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.engine.prober import netns_check, probe_targets
from stackstep.model.availability import ProbeTarget
from stackstep.session import RunRequest, prepare

EXAMPLES = Path(__file__).parents[3] / "examples"


def _targets(tmp_path: Path, extra: str) -> dict[ProbeTarget, tuple[str, tuple[int, ...]]]:
    inventory = tmp_path / "cloud.yaml"
    # the example without its load balancer (its own vip: and load_balancer:)
    text = (EXAMPLES / "ha-3-controllers-20-computes.yaml").read_text()
    inventory.write_text(text.split("  lb[1:2]:")[0] + extra)
    prepared = prepare(RunRequest(inventory))
    return {
        t.target: (t.url, t.expect)
        for t in probe_targets(prepared.plan.steps(), prepared.inventory)
    }


def test_every_controller_api_is_probed_on_each_host_and_nothing_else(tmp_path):
    found = _targets(tmp_path, "")
    keystone = {t for t in found if t.service == "keystone"}
    assert keystone == {ProbeTarget("keystone", host=f"ctl{n}") for n in (1, 2, 3)}
    assert found[ProbeTarget("keystone", host="ctl2")] == ("http://198.51.100.12:5000/v3", (200,))
    assert not any(t.endpoint for t in found)
    assert not any(t.host.startswith("compute") for t in found)


def test_an_endpoint_is_probed_beside_the_hosts_and_a_vip_stands_for_the_others(tmp_path):
    found = _targets(
        tmp_path,
        "endpoints:\n  keystone: https://cloud.example.net:5000/v3\nvip: 198.51.100.10\n",
    )
    keystone = ProbeTarget("keystone", endpoint="https://cloud.example.net:5000/v3")
    assert found[keystone] == ("https://cloud.example.net:5000/v3", (200,))
    glance = next(t for t in found if t.service == "glance" and t.endpoint)
    assert glance.endpoint == "http://198.51.100.10:9292/"
    assert len([t for t in found if t.endpoint]) == len({t.service for t in found})


@pytest.fixture
def namespace_api() -> Iterator[tuple[str, int]]:
    """A real HTTP server inside a network namespace of its own (root only)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    name = f"ststest{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                name,
                sys.executable,
                "-m",
                "http.server",
                "-b",
                "127.0.0.1",
                "8999",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    sys.executable,
                    "-c",
                    "import socket; socket.create_connection(('127.0.0.1', 8999), 1)",
                ],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        yield name, 8999
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_a_lab_host_is_probed_from_inside_its_namespace(namespace_api):
    netns, port = namespace_api
    ok, detail = asyncio.run(netns_check(netns, f"http://127.0.0.1:{port}/", (200,), 2.0))
    assert ok, detail
    assert detail.startswith(f"GET http://127.0.0.1:{port}/ -> 200 in ")
    missing, detail = asyncio.run(
        netns_check(netns, f"http://127.0.0.1:{port}/nothing-here", (200,), 2.0)
    )
    assert not missing and "-> 404" in detail and "(expected 200)" in detail
    # nothing listens on that port inside the namespace, whatever listens here
    refused, detail = asyncio.run(netns_check(netns, "http://127.0.0.1:1/", (200,), 2.0))
    assert not refused and "ConnectionRefusedError" in detail
