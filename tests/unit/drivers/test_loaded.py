"""Loaded-code detection on process data recorded from a real Python process before and
after an upgrade replaced the library it mapped and the module it imported
(tests/data/outputs/loaded/, _scripts/record-loaded.py)."""

from __future__ import annotations

import subprocess

import pytest

from stackstep.drivers import loaded
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "loaded"
SERVICE, OTHER, CHILD = 12251, 12252, 12267  # the PIDs in the recordings
UNITS = {"openstack-nova-api": SERVICE, "openstack-other": OTHER}


def read(name: str) -> loaded.Processes:
    data = loaded.parse_processes((OUT / name).read_text())
    assert data is not None
    return data


def modules(name: str) -> list[loaded.ModuleChange]:
    return loaded.parse_modules((OUT / name).read_text())


def test_processes_are_read_with_their_children_start_times_and_mappings():
    data = read("processes-before.txt")
    assert sorted(data.processes) == [SERVICE, OTHER, CHILD]
    service = data.processes[SERVICE]
    assert service.python == "3.11"
    assert service.script is not None and service.script.endswith("/svc.py")
    assert data.processes[CHILD].ppid == SERVICE and data.processes[CHILD].python is None
    assert [p.pid for p in data.tree(SERVICE)] == [SERVICE, CHILD]
    # started a second or two before the reading, to the clock tick
    assert 0.5 < data.now - service.started < 5
    libs = [m for m in service.maps if m.path.endswith("libfakez.so.1")]
    assert len(libs) == 1 and not libs[0].deleted
    assert data.files[(SERVICE, libs[0].path)].inode == libs[0].inode


def test_nothing_changed_before_the_upgrade():
    verdicts = loaded.loaded_code_changed(
        UNITS, read("processes-before.txt"), modules("modules-dpkg.txt")
    )
    assert {u: v.changed for u, v in verdicts.items()} == {
        "openstack-nova-api": False,
        "openstack-other": False,
    }


def test_a_replaced_library_and_a_changed_module_are_found():
    verdicts = loaded.loaded_code_changed(
        UNITS, read("processes-after.txt"), modules("modules-scratch.txt")
    )
    api = verdicts["openstack-nova-api"]
    assert api.changed
    assert any("libfakez.so.1, replaced since it started" in r for r in api.reasons)
    assert any(r.startswith("python-fakemod changed Python 3.11 modules") for r in api.reasons)
    # a process that is not a Python interpreter and maps nothing replaced: unchanged
    assert not verdicts["openstack-other"].changed


def test_modules_of_another_python_or_of_no_python_dir_change_nothing():
    data = read("processes-after.txt")
    lib_only = loaded.loaded_code_changed({"a": SERVICE}, data, [])["a"]
    assert [r for r in lib_only.reasons if "modules" in r] == []
    stamp = modules("modules-scratch.txt")[0].changed
    others = [
        loaded.ModuleChange("python2-x", "python2.7", stamp, "/usr/lib/python2.7/x.py"),
        loaded.ModuleChange("tools", "-", stamp, "/usr/share/doc/tools/example.py"),
        loaded.ModuleChange("python3-y", "python3", stamp, "/usr/lib/python3/dist-packages/y.py"),
    ]
    reasons = loaded.loaded_code_changed({"a": SERVICE}, data, others)["a"].reasons
    assert [r.split(" ")[0] for r in reasons if "modules" in r] == ["python3-y"]


def test_modules_output_groups_python_files_per_interpreter_directory():
    found = modules("modules-dpkg.txt")
    assert [(m.package, m.pydir) for m in found] == [
        ("libpython3.11-minimal", "python3.11"),
        ("python3-blinker", "python3"),
    ]
    assert found[1].sample == "/usr/lib/python3/dist-packages/blinker/__init__.py"
    assert found[1].changed == pytest.approx(1669314048.0)


def test_a_unit_whose_process_was_not_read_gets_no_verdict():
    data = read("processes-after.txt")
    assert loaded.loaded_code_changed({"gone": 4_000_000}, data, []) == {}


def test_garbage_and_nothing_parse_to_nothing_without_errors():
    assert loaded.parse_processes("") is None
    assert loaded.parse_processes("now x\nuptime 1\nhz 100\n") is None
    data = loaded.parse_processes("now 100.5\nuptime 50\nhz 100\npid 7\nstat 7 (a b) S\n")
    assert data is not None and data.processes == {}
    assert loaded.parse_modules("module a|b\nnot a line\nmodule p|python3|garbage|/x.py\n") == []


def test_temporary_and_special_mappings_are_not_code():
    gone = [
        loaded.Mapped("/tmp/ffiXa8b2c", 5, True),
        loaded.Mapped("/dev/shm/sem.x", 6, True),
        loaded.Mapped("/memfd:pulse", 7, True),
        loaded.Mapped("/tmp/build/libfoo.so.2", 8, True),
    ]
    proc = loaded.Process(9, 1, 10.0, "/usr/sbin/httpd", ("/usr/sbin/httpd",), tuple(gone))
    data = loaded.Processes(20.0, {9: proc})
    (reason,) = loaded.loaded_code_changed({"httpd": 9}, data, [])["httpd"].reasons
    assert "libfoo.so.2" in reason


def test_the_command_runs_here_and_finds_this_process():
    # the real command on this machine: the test's own process, a Python interpreter
    import os

    done = subprocess.run(
        loaded.processes_command([os.getpid()]).reveal(), capture_output=True, text=True, check=True
    )
    data = loaded.parse_processes(done.stdout)
    assert data is not None and os.getpid() in data.processes
    me = data.processes[os.getpid()]
    assert me.python is not None and "me" in loaded.loaded_code_changed({"me": me.pid}, data, [])


def test_a_module_outside_the_units_package_closure_does_not_count():
    data, mods = read("processes-after.txt"), modules("modules-scratch.txt")
    assert [m.package for m in mods] == ["python-fakemod"]
    # keystone's package needs nothing that ships fakemod: it cannot have imported it
    kept = loaded.loaded_code_changed(
        {"openstack-keystone": SERVICE},
        data,
        mods,
        closures={"openstack-keystone": frozenset({"openstack-keystone"})},
    )["openstack-keystone"]
    assert [r for r in kept.reasons if "modules" in r] == []
    # the mapped library replaced under it still counts: that is seen, not guessed
    assert any("libfakez.so.1" in r for r in kept.reasons)
    needs = frozenset({"openstack-nova-api", "python-fakemod"})
    api = loaded.loaded_code_changed(UNITS, data, mods, closures={"openstack-nova-api": needs})
    assert any(r.startswith("python-fakemod changed") for r in api["openstack-nova-api"].reasons)
