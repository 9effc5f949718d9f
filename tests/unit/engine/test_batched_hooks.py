"""Hooks that work in batches (``online_data_migrations --max-count N``: exit 1 = more
to do) and hooks guarded by an exit status (``has_offline_migrations``: 1 = pending),
run for real on the local transport."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stackstep.engine.actions import ActionContext, perform, probe
from stackstep.errors import StepFailed
from stackstep.model.command import cmd
from stackstep.model.inventory import Host
from stackstep.model.params import Guard, HookParams
from stackstep.model.plan import Step, StepKind
from stackstep.model.states import StepState
from stackstep.transport.base import TransportOptions
from stackstep.transport.local import LocalTransport

HOST = Host("ctl", "127.0.0.1", transport="local")


def _migrations(tmp_path: Path, rows: int, batch: int, fail_at: int | None = None) -> Path:
    """A stand-in `online_data_migrations --max-count`: migrates ``batch`` of the rows
    left each time, exits 1 while some remain, 0 when none, 2 on an error."""
    state = tmp_path / "rows"
    state.write_text(str(rows))
    script = tmp_path / "migrate.sh"
    fail = (
        f'[ "$left" -le {fail_at} ] && echo "Error attempting to run migrate_foo" && exit 2\n'
        if fail_at is not None
        else ""
    )
    script.write_text(
        "#!/bin/sh\n"
        f'left=$(cat {state})\n{fail}[ "$left" -eq 0 ] && exit 0\n'
        f"left=$((left > {batch} ? left - {batch} : 0))\n"
        f'echo "$left" > {state}\necho "migrated, $left left"\n'
        '[ "$left" -gt 0 ] && exit 1\nexit 0\n'
    )
    script.chmod(0o755)
    return script


def _hook(argv: list[str], again: int | None = 1, when: Guard | None = None) -> Step:
    return Step(
        "services/nova/ctl/online-data-migrations",
        StepKind.HOOK,
        "run nova's online data migrations",
        "ctl",
        "nova",
        (cmd(*argv),),
        HookParams("online-data-migrations", "post_start", "command", "x", when, None, again),
    )


def _run(step: Step):
    transport = LocalTransport(HOST, TransportOptions())
    ctx = ActionContext("RUN", HOST, "stackstep resume RUN", "systemd")
    return asyncio.run(perform(step, transport, ctx))


def test_a_batched_migration_runs_until_it_says_done(tmp_path):
    script = _migrations(tmp_path, rows=120, batch=50)
    done = _run(_hook([str(script)]))
    assert done.state == StepState.DONE
    assert "3 round(s)" in done.message  # 120 -> 70 -> 20 -> 0
    assert (tmp_path / "rows").read_text().strip() == "0"


def test_errors_without_progress_stop_the_run_with_the_commands_output(tmp_path):
    script = _migrations(tmp_path, rows=120, batch=50, fail_at=70)
    with pytest.raises(StepFailed) as failed:
        _run(_hook([str(script)]))
    assert failed.value.exit_status == 2
    assert "after 2 round(s)" in failed.value.message
    assert "Error attempting to run migrate_foo" in failed.value.output_tail


def test_without_again_exit_status_1_is_a_failure(tmp_path):
    script = _migrations(tmp_path, rows=120, batch=50)
    with pytest.raises(StepFailed):
        _run(_hook([str(script)], again=None))


@pytest.mark.parametrize(("status", "runs"), [(1, True), (0, False)])
def test_an_exit_status_guard_decides_whether_the_hook_runs(tmp_path, status, runs):
    marker = tmp_path / "contracted"
    guard = Guard(("sh", "-c", f"exit {status}"), "", (1,))
    step = _hook(["touch", str(marker)], again=None, when=guard)
    done = _run(step)
    assert marker.exists() is runs
    assert done.state == (StepState.DONE if runs else StepState.SKIPPED)
    # and on resume, the guard is its probe: nothing pending means done
    transport = LocalTransport(HOST, TransportOptions())
    ctx = ActionContext("RUN", HOST, "stackstep resume RUN", "systemd")
    assert asyncio.run(probe(step, transport, ctx)) is (not runs)


NOVA_CONF = """[DEFAULT]
debug = False

[upgrade_levels]
# compute = auto

[database]
connection = mysql+pymysql://nova:secret@db/nova
"""


def _ensure(path: Path) -> Step:
    return Step(
        "services/nova/ctl/upgrade-levels",
        StepKind.HOOK,
        "nova runs with compute = auto",
        "ctl",
        "nova",
        params=HookParams.from_json(
            {
                "hook_kind": "ini-ensure",
                "params": {
                    "file": str(path),
                    "section": "upgrade_levels",
                    "key": "compute",
                    "value": "auto",
                },
            }
        ),
    )


def test_compute_auto_is_set_when_absent_and_the_sites_file_is_kept(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_CONF)
    conf.chmod(0o640)
    done = _run(_ensure(conf))
    assert "set [upgrade_levels] compute = auto" in done.message
    text = conf.read_text()
    assert "[upgrade_levels]\n# compute = auto\ncompute = auto\n\n[database]" in text
    assert (tmp_path / "nova.conf.stackstep-RUN").read_text() == NOVA_CONF
    assert conf.stat().st_mode & 0o777 == 0o640
    # a repeat (resume) finds it set and changes nothing
    again = _run(_ensure(conf))
    assert again.message.startswith("[upgrade_levels] compute = auto in")
    assert conf.read_text() == text


def test_a_pin_the_site_chose_is_kept_and_reported(tmp_path):
    conf = tmp_path / "nova.conf"
    pinned = NOVA_CONF.replace("# compute = auto", "compute = flamingo")
    conf.write_text(pinned)
    done = _run(_ensure(conf))
    assert "compute = flamingo" in done.message and "the site's choice, kept" in done.message
    assert conf.read_text() == pinned
    assert not (tmp_path / "nova.conf.stackstep-RUN").exists()


def test_a_missing_section_is_added_at_the_end(tmp_path):
    from stackstep.engine.hooks import ini_get, ini_set

    text = "[DEFAULT]\ndebug = True"
    added = ini_set(text, "upgrade_levels", "compute", "auto")
    assert added == "[DEFAULT]\ndebug = True\n\n[upgrade_levels]\ncompute = auto\n"
    assert ini_get(added, "upgrade_levels", "compute") == "auto"
    assert ini_get(text, "upgrade_levels", "compute") is None
