import subprocess
from pathlib import Path

from stackstep.drivers.kernels import (
    kernel_flavour,
    newest_kernel,
    parse_boot_listing,
    parse_rpm_last,
    reboot_needed,
    rpm_kernels_command,
)

OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"


def read(tool: str, name: str) -> str:
    return (OUTPUTS / tool / name).read_text()


def test_rpm_last_lists_releases_by_install_time():
    releases = parse_rpm_last(read("rpm", "q-last-kernel.txt"))
    assert releases == [
        "5.14.0-284.11.1.el9_2.x86_64",
        "5.14.0-362.el9.x86_64",
        "5.14.0-70.13.1.el9_0.x86_64",
    ]
    # the last installed is not the newest
    assert newest_kernel(releases) == "5.14.0-362.el9.x86_64"


def test_no_kernel_package():
    assert parse_rpm_last(read("rpm", "q-last-kernel-not-installed-rc1.txt")) == []
    assert newest_kernel([]) is None
    assert reboot_needed("5.14.0-362.el9.x86_64", []) is False


def test_rpm_kernels_command_is_untranslated():
    assert rpm_kernels_command().render() == "LC_ALL=C rpm -q --last kernel"


def test_rhel9_running_an_older_kernel_needs_a_reboot():
    installed = parse_boot_listing(read("boot", "ls-boot-rhel9.txt"))
    assert sorted(installed) == sorted(parse_rpm_last(read("rpm", "q-last-kernel.txt")))
    assert reboot_needed("5.14.0-70.13.1.el9_0.x86_64", installed) is True
    assert reboot_needed("5.14.0-362.el9.x86_64", installed) is False


def test_rhel9_boot_listing_skips_rescue_image():
    installed = parse_boot_listing(read("boot", "ls-boot-rhel9.handwritten.txt"))
    assert installed == ["5.14.0-362.8.1.el9_3.x86_64", "5.14.0-427.13.1.el9_4.x86_64"]
    assert reboot_needed("5.14.0-362.8.1.el9_3.x86_64", installed) is True


def test_debian_kernel_26_is_newer_than_9():
    installed = parse_boot_listing(read("boot", "ls-boot-debian12.txt"))
    assert installed == ["6.1.0-26-amd64", "6.1.0-9-amd64"]
    assert newest_kernel(installed) == "6.1.0-26-amd64"
    assert reboot_needed("6.1.0-9-amd64", installed) is True
    assert reboot_needed("6.1.0-26-amd64\n", installed) is False  # uname -r output as is


def test_other_flavours_do_not_count():
    installed = ["6.1.0-26-amd64", "6.1.0-26-cloud-amd64", "6.1.0-9-amd64"]
    assert kernel_flavour("6.1.0-26-cloud-amd64") == "cloud-amd64"
    assert kernel_flavour("5.15.0-91-generic") == "generic"
    assert kernel_flavour("5.14.0-362.el9.x86_64") == ""
    assert reboot_needed("6.1.0-26-amd64", installed) is False
    assert reboot_needed("5.15.0-91-generic", ["5.15.0-101-generic"]) is True


def test_live_boot_listing_here():
    out = subprocess.run(["ls", "/boot"], capture_output=True, text=True, check=True)
    # this development machine has no kernel package (/boot is empty): nothing to reboot into
    for release in parse_boot_listing(out.stdout):
        assert not release.startswith("vmlinuz")


def test_rpm_last_with_a_single_kernel():
    text = read("rpm", "q-last-kernel-single.txt")
    assert parse_rpm_last(text) == ["5.14.0-503.11.1.el9.x86_64"]
    assert not reboot_needed("5.14.0-503.11.1.el9.x86_64", parse_rpm_last(text))
