"""Boot id, reboot and scheduled reboot commands (drivers/boot.py)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from stackstep.drivers.boot import (
    BOOT_ID,
    boot_id_command,
    parse_at,
    parse_boot_id,
    reboot_command,
    schedule_command,
)


def test_the_boot_id_is_read_from_proc_and_parsed():
    assert boot_id_command().render() == f"cat {BOOT_ID}"
    real = subprocess.run(["cat", BOOT_ID], capture_output=True, text=True, check=True)
    parsed = parse_boot_id(real.stdout)  # this machine's own, with its newline
    assert parsed == real.stdout.strip()
    assert uuid.UUID(parsed)


@pytest.mark.parametrize("text", ["", "cat: /proc/...: No such file", "12345"])
def test_anything_else_is_not_a_boot_id(text):
    assert parse_boot_id(text) is None


def test_reboot_by_init_system():
    assert reboot_command("systemd").render() == "systemctl reboot"
    assert reboot_command("sysv").render() == "shutdown -r now"


@pytest.mark.parametrize(
    ("given", "at"), [("02:00", "02:00"), ("2:05", "02:05"), ("23:59", "23:59")]
)
def test_at_is_a_time_of_day(given, at):
    assert parse_at(given) == at


@pytest.mark.parametrize("given", ["24:00", "12:60", "now", "+5", "2", "02:00:00", "-1:00"])
def test_at_refuses_what_is_not_a_time_of_day(given):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_at(given)


def test_schedule_says_why_and_keeps_the_message_one_token():
    command = schedule_command("02:00")
    assert command.reveal() == ["shutdown", "-r", "02:00", "stackstep: new kernel"]
    assert command.render() == "shutdown -r 02:00 'stackstep: new kernel'"
