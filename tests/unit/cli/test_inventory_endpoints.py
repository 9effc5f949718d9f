"""The inventory's `endpoints:` and `vip:` (docs/inventory.md): a bad value is refused
with its file, line and key (exit 2); `stackstep plan` names what a run will probe."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stackstep.cli.commands import register
from stackstep.cli.main import cli

register(cli)

HOSTS = "release: grizzly\nhosts:\n  ctl:\n    address: 192.0.2.10\n    roles: [controller]\n"

# name -> (text after HOSTS (its first line is line 6), fragments of the message)
MISTAKES = {
    "ftp-url": (
        "endpoints:\n  keystone: ftp://192.0.2.5/v3\n",
        [":7:", "endpoints.keystone", "'ftp://192.0.2.5/v3' is not an http:// or https:// URL"],
    ),
    "url-with-credentials": (
        "endpoints:\n  keystone: http://admin:secret@192.0.2.5:5000/v3\n",
        [":7:", "endpoints.keystone", "holds credentials"],
    ),
    "unknown-service": (
        "endpoints:\n  glance: http://192.0.2.5:9292/\n  keystne: http://192.0.2.5:5000/v3\n",
        [":8:", "endpoints.keystne", "unknown service 'keystne'", "did you mean 'keystone'"],
    ),
    "url-option-like-host": (
        "endpoints:\n  keystone: http://-oProxyCommand=x/\n",
        [":7:", "endpoints.keystone", "starts with '-'"],
    ),
    "endpoints-not-a-mapping": (
        "endpoints: http://192.0.2.5/\n",
        [":6:", "endpoints", "expected a mapping"],
    ),
    "vip-is-a-url": (
        "vip: http://192.0.2.5/\n",
        [":6:", "vip", "neither an IP address nor a DNS name"],
    ),
    "vip-is-no-ip-address": (
        "vip: 192.0.2.300\n",
        [":6:", "vip", "'192.0.2.300'", "not an IP address"],
    ),
    "vip-is-a-list": ("vip: [192.0.2.5, 192.0.2.6]\n", [":6:", "vip", "expected a string"]),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_bad_endpoint_or_vip_names_file_line_and_key(name, tmp_path):
    text, fragments = MISTAKES[name]
    path = tmp_path / "cloud.yaml"
    path.write_text(HOSTS + text)
    result = CliRunner().invoke(cli, ["plan", "-i", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}:" in result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


def test_the_plan_names_the_endpoints_a_run_will_probe(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text(HOSTS + "endpoints:\n  keystone: https://id.example.com/v3\nvip: 192.0.2.50\n")
    result = CliRunner().invoke(cli, ["plan", "-i", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index("load-balanced endpoints probed during the run (besides each API's hosts):")
    probed = lines[at + 1 : -1]  # up to the footer
    # keystone at its own URL; every other API with a probe at the VIP, on its own port
    assert "  - keystone via https://id.example.com/v3" in probed
    assert "  - glance via http://192.0.2.50:9292/" in probed
    assert "  - nova via http://192.0.2.50:8774/" in probed
    assert len(probed) == 7  # keystone, swift, cinder, glance, neutron, nova, horizon
    assert lines[-1].startswith("Nothing has been changed")
    # and without them, no such lines: the plan reads as before
    path.write_text(HOSTS)
    assert "endpoints probed" not in CliRunner().invoke(cli, ["plan", "-i", str(path)]).output


def test_a_mistyped_ip_address_is_not_taken_for_a_dns_name(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text(HOSTS.replace("192.0.2.10", "10.0.0.256"))
    result = CliRunner().invoke(cli, ["plan", "-i", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:4: hosts.ctl.address: '10.0.0.256' is not an IP address" in result.output
