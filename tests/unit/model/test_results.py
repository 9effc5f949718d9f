"""A step's journalled result reads back typed: what each kind of step writes, and a
journal of an older release (keys missing or of another type) reads as the defaults."""

from __future__ import annotations

from stackstep.model.results import StepResult


def test_each_kind_of_result_reads_back_typed():
    assert StepResult.from_json({"backup": "/var/backups/nova.sql.gz"}).backup == (
        "/var/backups/nova.sql.gz"
    )
    assert StepResult.from_json({"files": ["/etc/nova/nova.conf.rpmnew"]}).files == (
        "/etc/nova/nova.conf.rpmnew",
    )
    finding = {"host": "c1", "check": "ssh", "severity": "problem", "message": "m", "fix": "f"}
    assert StepResult.from_json({"findings": [finding]}).findings == (finding,)
    assert StepResult.from_json({"restarted": ["a.service", "b.service"]}).restarted == (
        "a.service",
        "b.service",
    )
    reboot = StepResult.from_json(
        {"running": "5.14.0-1", "newest": "5.14.0-2", "reboot_needed": True}
    )
    assert (reboot.running, reboot.newest, reboot.reboot_needed) == ("5.14.0-1", "5.14.0-2", True)
    assert StepResult.from_json({"hint": "free /var"}).hint == "free /var"


def test_missing_or_mistyped_keys_read_as_defaults():
    empty = StepResult()
    assert StepResult.from_json({}) == empty
    odd = {"backup": 3, "files": "x", "findings": {}, "restarted": None, "hint": None}
    assert StepResult.from_json(odd) == empty
