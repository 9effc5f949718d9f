"""The plan hash is the SHA-256 of the plan's canonical JSON (docs/plan-json.md): a run
is resumed only with the same plan, so how it is computed must never drift. The value
below was recorded with the first implementation (json.dumps of the whole body)."""

from __future__ import annotations

import hashlib
import json

from stackstep.model.command import Command, Secret
from stackstep.model.params import PreflightParams, Probe, ServiceCheck, VerifyParams
from stackstep.model.plan import Group, Plan, Step, StepKind


def recorded_plan() -> Plan:
    steps = [
        Step(
            f"services/nova/cmp{i:02d}/verify",
            StepKind.VERIFY,
            "verify nova: units active",
            f"cmp{i:02d}",
            "nova",
            (Command(("systemctl", "is-active", "--", "openstack-nova-compute")),),
            VerifyParams(("openstack-nova-compute",), Probe("http://x:8774/", (200,))),
        )
        for i in range(1, 4)
    ]
    odd = Step(
        "preflight/ctl/check",
        StepKind.PREFLIGHT,
        "check the host is ready: ssh, sudo, disk space",
        "ctl",
        params=PreflightParams(
            1.0,
            (ServiceCheck('é\u2028"', (), smoke=(), upgrade_check=("a",), user=None),),
            "block",
            "rpm",
            checks=("ssh", "sudo"),
        ),
        commands=(Command(("mysql", "-p", Secret("hunter2")), env=(("LANG", "C"),)),),
        restore=True,
        timeout=120,
    )
    root = Group(
        "plan",
        "upgrade",
        "sequential",
        (
            Group("preflight", "preflight", "parallel", (odd,), 20),
            Group(
                "services",
                "services",
                "sequential",
                (
                    Group(
                        "services/nova/verify", "verify nova", "parallel", tuple(steps), 2, "nova"
                    ),
                ),
            ),
            Group("empty", "nothing", "parallel", ()),
        ),
    )
    return Plan(
        "cloud",
        "grizzly",
        "havana",
        "service-by-service",
        root,
        {"parallel": 20, "only": [], "n": {1: "int key"}, "empty": {}, "z": None, "a": [True]},
        ("ctl", "cmp01", "cmp02", "cmp03"),
        ("nova",),
        ("a warning",),
        "discovery",
    )


# recorded again when the command's environment joined the JSON (issue 12) and step data
# became typed parameters (the odd values moved to the options); the same plan without
# its LANG=C hashes as the code before did: a8f52594f954...
RECORDED = "6d4d5812b399c8e7cfedd34152eaab926bf2909e874617ca4af24ca87d78ee75"


def test_the_hash_of_a_plan_is_the_recorded_one():
    plan = recorded_plan()
    assert plan.hash == RECORDED
    assert plan.to_dict()["hash"] == RECORDED


def test_the_hash_is_the_sha256_of_the_canonical_json_body():
    plan = recorded_plan()
    canonical = json.dumps(plan.body(), sort_keys=True, separators=(",", ":"))
    assert plan.hash == hashlib.sha256(canonical.encode()).hexdigest()
    fresh = recorded_plan()
    body = fresh.to_dict()  # the hash from the body to_dict builds, then kept
    assert body["hash"] == fresh.hash == plan.hash
