"""Which running units have code loaded that is no longer what is on disk: the after
phase restarts those units only (``restart-units``), not every unit started before some
package was installed.

For each unit, its processes (systemd's MainPID and every descendant) are read on the
host, in :func:`processes_command`'s one round trip, and a unit is *changed* when one of
its processes

1. maps a file (``/proc/PID/maps``: its executable, shared libraries, Python extension
   modules) that was deleted since (``(deleted)``: an upgrade replaced it) or whose path
   now names another inode; mappings where deletion is normal are not counted
   (``/dev/``, ``/run/``, ``/proc/``, ``/sys/``, ``memfd:``, SysV shared memory, and files
   in ``/tmp`` or ``/var/tmp`` unless named like a shared library, ``*.so*``: libffi's
   ``/tmp/ffiXXXXXX`` trampolines are deleted on purpose); or
2. is a Python interpreter (its executable is ``pythonX.Y``, or it maps ``libpythonX.Y``,
   as httpd with mod_wsgi does) and either its script (the first argument after the
   interpreter's own options) changed after the process started, or a package installed
   since the process started ships Python source or bytecode (``*.py``, ``*.pyc``,
   ``*.pyo``) for that interpreter's version (a ``pythonX.Y`` or ``pythonX`` directory in
   the path, as ``site-packages``/``dist-packages`` are) whose change time is after the
   process started. Python modules are read when imported, so they leave no trace in
   ``maps``; as needrestart does for interpreters, their change time against the
   process's start decides. Which of a package's modules a process imported cannot be
   seen from outside: every module of the interpreter's version counts (restarting once
   too often is the safe side), of the packages the unit's code can come from when they
   are known (its package's dependency closure, drivers/requires.py); a package without
   Python files for that version (data, documentation, command-line tools, another
   interpreter's modules) changes nothing.

Content, not change time, decides: a file written since a process started (a mapped file
replaced, a script or module changed after it started) does not count when it was
written again with the content the process loaded. The final full upgrade records the
package manager's digests of installed code first (drivers/digests.py); a candidate
whose digest now is the recorded one, and whose recorded change time is before the
process started (else an earlier transaction may have changed it under the process),
is a ``same`` finding: the unit is kept and says why. A path with no record (a new file,
no record at all) or another digest counts as above.

Times: the host's clock with nanoseconds (``date +%s.%N``), each process's start from
``/proc/PID/stat`` (clock ticks since boot) against ``/proc/uptime`` read at the same
moment, and change times from ``stat`` in UTC with nanoseconds; a file changed up to
:data:`MARGIN` before a process started still counts (the tick and uptime resolution).

A unit whose processes cannot be read (its MainPID is 0 or the process ended between
the two questions) is decided by package install times instead (drivers/stale.py).

Commands are data; parsers read what they print (tests/data/outputs/loaded/).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from stackstep.model.command import Command, cmd

MARGIN = 0.05  # seconds: clock ticks are 10 ms, /proc/uptime has 10 ms
IGNORED_PREFIXES = ("/dev/", "/run/", "/proc/", "/sys/", "/memfd:", "/SYSV", "/[")
TEMP_DIRS = ("/tmp/", "/var/tmp/")
PYTHON_FILE = re.compile(r"\.py[co]?$")
PYTHON_DIR = re.compile(r"/(python\d(?:\.\d+)?)/")
PYTHON_EXE = re.compile(r"^python(\d(?:\.\d+)?)")
LIBPYTHON = re.compile(r"/libpython(\d\.\d+)")

# $@: the main PIDs. Prints the clock, then for each of them and every descendant its
# stat line, executable, arguments, file mappings and, as the process sees them (its
# root), the inode and change time now of each mapped file and each absolute argument.
_PROCESSES = r"""
echo "now $(date +%s.%N)"
echo "uptime $(cut -d' ' -f1 /proc/uptime)"
echo "hz $(getconf CLK_TCK)"
pids=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { split(substr($0, index($0, ") ") + 2), f, " "); parent[$1] = f[2] }
    END {
        do { more = 0
             for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; more = 1 }
        } while (more)
        for (p in keep) if (p in parent) print p
    }')
for pid in $pids; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    maps=$(cat "/proc/$pid/maps" 2>/dev/null) || continue
    echo "pid $pid"
    echo "stat $stat"
    echo "exe $(readlink "/proc/$pid/exe" 2>/dev/null)"
    printf 'argv '; tr '\0' '\n' < "/proc/$pid/cmdline" | tr '\n' '\t'; echo
    printf '%s\n' "$maps" | awk '$6 ~ /^\// { p = $6; for (i = 7; i <= NF; i++) p = p " " $i
        print "map " $5 " " p }' | sort -u
    { printf '%s\n' "$maps" | awk '$6 ~ /^\// && $NF != "(deleted)" { print $6 }'
      tr '\0' '\n' < "/proc/$pid/cmdline" | grep '^/'
    } | sort -u | sed "s|^|/proc/$pid/root|" | tr '\n' '\0' |
        TZ=UTC0 xargs -0 -r stat -L -c 'now %i|%z|%n' 2>/dev/null
done
true
"""

# $@: package names. For each, its Python files grouped by the pythonX[.Y] directory they
# are in ("-": none), with the newest change time (UTC) and that file's path.
_MODULES = r"""
for p in "$@"; do
    { cat "/var/lib/dpkg/info/$p.list" "/var/lib/dpkg/info/$p":*.list 2>/dev/null ||
      rpm -ql -- "$p" 2>/dev/null; } | grep -E '\.py[co]?$' | tr '\n' '\0' |
        TZ=UTC0 xargs -0 -r stat -c '%z|%n' 2>/dev/null |
        awk -F'|' -v pkg="$p" '{
            key = "-"
            if (match($2, /\/python[0-9](\.[0-9]+)?\//)) key = substr($2, RSTART + 1, RLENGTH - 2)
            if (!(key in t) || $1 > t[key]) { t[key] = $1; f[key] = $2 }
        } END { for (k in t) print "module " pkg "|" k "|" t[k] "|" f[k] }'
done
true
"""


def processes_command(pids: Iterable[int]) -> Command:
    """The processes of the units whose main PIDs are ``pids`` (see the module)."""
    return cmd("sh", "-c", _PROCESSES, "sh", *(str(p) for p in pids))


def modules_command(packages: Iterable[str]) -> Command:
    """The Python files of ``packages`` (installed since the oldest process started), per
    interpreter directory, newest change time first."""
    return cmd("sh", "-c", _MODULES, "sh", *packages)


@dataclass(frozen=True)
class Mapped:
    path: str
    inode: int
    deleted: bool


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    started: float  # epoch seconds
    exe: str
    argv: tuple[str, ...]
    maps: tuple[Mapped, ...]

    @property
    def python(self) -> str | None:
        """``X.Y`` (or ``X``) when this process runs a Python interpreter, else None."""
        found = PYTHON_EXE.match(PurePosixPath(self.exe).name)
        if found:
            return found.group(1)
        for m in self.maps:
            lib = LIBPYTHON.search(m.path)
            if lib:
                return lib.group(1)
        return None

    @property
    def script(self) -> str | None:
        """An interpreter's script: its first argument that is not an option."""
        for arg in self.argv[1:]:
            if arg in ("-m", "-c"):
                return None
            if not arg.startswith("-"):
                return arg if arg.startswith("/") else None
        return None


@dataclass(frozen=True)
class OnDisk:
    inode: int
    changed: float  # epoch seconds (ctime)


@dataclass
class Processes:
    """What :func:`processes_command` printed."""

    now: float
    processes: dict[int, Process] = field(default_factory=dict)
    files: dict[tuple[int, str], OnDisk] = field(default_factory=dict)  # (pid, path)

    def tree(self, root: int) -> list[Process]:
        """``root`` and its descendants that were read (empty: ``root`` was not)."""
        if root not in self.processes:
            return []
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(self.processes[pid])
            todo += [p.pid for p in self.processes.values() if p.ppid == pid and p.pid != pid]
        return found


@dataclass(frozen=True)
class SameContent:
    """A package's Python files under one interpreter directory that were written again
    with the content recorded before the upgrade (drivers/digests.py): the newest of
    them (``changed``, its change time now) and the newest change time any of them had
    when the record was taken (``recorded``)."""

    package: str
    pydir: str
    changed: float
    recorded: float
    sample: str


@dataclass(frozen=True)
class ModuleChange:
    """A package's Python files under one interpreter directory (``python3.11``,
    ``python3``; ``-`` for none), the newest of them and when it changed."""

    package: str
    pydir: str
    changed: float
    sample: str


def utc(text: str) -> float | None:
    """``2026-12-05 11:06:33.698207313 +0000`` (stat's %z) -> epoch seconds."""
    day, _, rest = text.strip().partition(" ")
    clock, _, zone = rest.partition(" ")
    whole, _, frac = clock.partition(".")
    try:
        stamp = datetime.strptime(f"{day} {whole} {zone}", "%Y-%m-%d %H:%M:%S %z")
        return stamp.timestamp() + (float(f"0.{frac}") if frac.isdigit() else 0.0)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _start(stat: str, now: float, uptime: float, hz: int) -> tuple[int, float] | None:
    """(ppid, start epoch) from a ``/proc/PID/stat`` line (the name may hold spaces)."""
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or not fields[1].isdigit() or not fields[19].isdigit():
        return None
    return int(fields[1]), now - (uptime - int(fields[19]) / hz)


def _on_disk(value: str) -> tuple[tuple[int, str], OnDisk] | None:
    """``INODE|CTIME|/proc/PID/root/PATH`` -> ((PID, PATH), what is there now)."""
    inode, _, rest = value.partition("|")
    changed, _, path = rest.partition("|")
    pid, _, inner = path.removeprefix("/proc/").partition("/root")
    when = utc(changed)
    if not (pid.isdigit() and inode.isdigit()) or when is None:
        return None
    return (int(pid), inner), OnDisk(int(inode), when)


def _process(block: Mapping[str, list[str]], clock: tuple[float, float, int]) -> Process | None:
    pid = block["pid"][0]
    started = _start(block.get("stat", [""])[0], *clock)
    if not pid.isdigit() or started is None:
        return None
    maps = []
    for entry in block.get("map", []):
        inode, _, path = entry.partition(" ")
        if inode.isdigit():
            gone = path.endswith(" (deleted)")
            maps.append(Mapped(path.removesuffix(" (deleted)"), int(inode), gone))
    argv = tuple(a for a in block.get("argv", [""])[0].split("\t") if a)
    exe = block.get("exe", [""])[0]
    return Process(int(pid), started[0], started[1], exe, argv, tuple(maps))


def parse_processes(text: str) -> Processes | None:
    """:func:`processes_command`'s output; None when the clock itself is unreadable."""
    head: dict[str, str] = {}
    blocks: list[dict[str, list[str]]] = []
    files: dict[tuple[int, str], OnDisk] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "pid":
            blocks.append({"pid": [value]})
        elif key == "now" and "|" in value:
            if (found := _on_disk(value)) is not None:
                files[found[0]] = found[1]
        elif blocks:
            blocks[-1].setdefault(key, []).append(value)
        else:
            head[key] = value
    now, uptime = _float(head.get("now", "")), _float(head.get("uptime", ""))
    hz = head.get("hz", "")
    if now is None or uptime is None or not hz.isdigit() or int(hz) == 0:
        return None
    read = (_process(b, (now, uptime, int(hz))) for b in blocks)
    return Processes(now, {p.pid: p for p in read if p is not None}, files)


def parse_modules(text: str) -> list[ModuleChange]:
    """:func:`modules_command`'s output."""
    out = []
    for line in text.splitlines():
        if not line.startswith("module "):
            continue
        parts = line.removeprefix("module ").split("|", 3)
        if len(parts) == 4 and (when := utc(parts[2])) is not None:
            out.append(ModuleChange(parts[0], parts[1], when, parts[3]))
    return out


def _counted(m: Mapped) -> bool:
    if m.path.startswith(IGNORED_PREFIXES):
        return False
    return not m.path.startswith(TEMP_DIRS) or ".so" in PurePosixPath(m.path).name


def _same_python(pydir: str, version: str) -> bool:
    """Can an interpreter of ``version`` (``3.11``) import from a ``pydir`` directory
    (``python3.11``, or ``python3`` as Debian's dist-packages)?"""
    wanted = pydir.removeprefix("python")
    return wanted == version or wanted == version.split(".", maxsplit=1)[0]


def _vouched(recorded: float | None, p: Process) -> bool:
    """Is content recorded before the upgrade what ``p`` loaded? Only when the file had
    not changed since before ``p`` started (its change time in the record)."""
    return recorded is not None and recorded < p.started - MARGIN


def _findings(
    p: Process,
    files: Mapping[tuple[int, str], OnDisk],
    mods: Sequence[ModuleChange],
    same: Sequence[SameContent],
    vouched: Mapping[str, float],
    closure: frozenset[str] | None = None,
) -> Iterator[tuple[bool, str]]:
    """(changed, why) for each file ``p`` loaded that was written since it started:
    changed False when it was written with the content ``p`` loaded."""
    for m in p.maps:
        if not _counted(m):
            continue
        now = files.get((p.pid, m.path))
        if m.deleted or (now is not None and now.inode != m.inode):
            if _vouched(vouched.get(m.path), p):
                yield False, f"{PurePosixPath(m.path).name} replaced with the same content"
            else:
                yield True, f"maps {m.path}, replaced since it started"
    version = p.python
    if version is not None:
        if closure is not None:  # only the packages its unit's package needs
            mods = [m for m in mods if m.package in closure]
            same = [x for x in same if x.package in closure]
        yield from _python_findings(p, version, files, mods, same, vouched)


def _python_findings(
    p: Process,
    version: str,
    files: Mapping[tuple[int, str], OnDisk],
    mods: Sequence[ModuleChange],
    same: Sequence[SameContent],
    vouched: Mapping[str, float],
) -> Iterator[tuple[bool, str]]:
    """An interpreter's script and the modules of its version written since it started."""
    since = p.started - MARGIN
    script = p.script
    now = files.get((p.pid, script)) if script else None
    if script and now is not None and now.changed >= since:
        if _vouched(vouched.get(script), p):
            yield False, f"{PurePosixPath(script).name} replaced with the same content"
        else:
            yield True, f"its script {script} changed after it started"
    what = f"Python {version} modules after it started"
    for mod in mods:
        if mod.pydir != "-" and _same_python(mod.pydir, version) and mod.changed >= since:
            yield True, f"{mod.package} changed {what}, e.g. {mod.sample}"
    for s in same:
        if s.pydir != "-" and _same_python(s.pydir, version) and s.changed >= since:
            if _vouched(s.recorded, p):
                yield (
                    False,
                    f"{s.package}'s Python {version} modules replaced with the same content",
                )
            else:
                yield True, f"{s.package} changed {what}, e.g. {s.sample}"


def candidate_files(data: Processes) -> list[str]:
    """The files a process loaded that were written since it started (mapped files
    replaced, interpreters' scripts changed): the only ones whose content is compared."""
    found: set[str] = set()
    for p in data.processes.values():
        for m in p.maps:
            now = data.files.get((p.pid, m.path))
            if _counted(m) and (m.deleted or (now is not None and now.inode != m.inode)):
                found.add(m.path)
        script = p.script if p.python else None
        now = data.files.get((p.pid, script)) if script else None
        if script and now is not None and now.changed >= p.started - MARGIN:
            found.add(script)
    return sorted(found)


@dataclass(frozen=True)
class Verdict:
    """A unit's processes, read: ``reasons`` empty when they run the code on disk."""

    unit: str
    reasons: tuple[str, ...]
    same: tuple[str, ...] = ()  # files written again with the content they loaded

    @property
    def changed(self) -> bool:
        return bool(self.reasons)

    def because(self, most: int = 2) -> str:
        return _listed(self.reasons, most)

    def kept_because(self, most: int = 2) -> str:
        """Why a unit that is not changed is kept."""
        return _listed(self.same, most) if self.same else "the code it loaded did not change"


def _listed(texts: Sequence[str], most: int) -> str:
    shown = list(dict.fromkeys(texts))
    text = "; ".join(shown[:most])
    return text + (f" (and {len(shown) - most} more)" if len(shown) > most else "")


def loaded_code_changed(
    main_pids: Mapping[str, int],
    data: Processes,
    modules: Sequence[ModuleChange],
    same: Sequence[SameContent] = (),
    vouched: Mapping[str, float] | None = None,
    closures: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Verdict]:
    """A verdict for each unit whose main process was read (the others are not in it).
    ``same`` and ``vouched`` (path -> its change time in the record) are what the
    record taken before the full upgrade says was written with the same content
    (drivers/digests.py); without them every file written since counts as changed.
    ``closures``: unit -> the packages its code can come from (drivers/requires.py);
    a Python module of another package does not count for it; a unit without one
    counts every module of its interpreter's version."""
    out: dict[str, Verdict] = {}
    for unit, pid in main_pids.items():
        tree = data.tree(pid)
        closure = (closures or {}).get(unit)
        if tree:
            found = [
                f
                for p in tree
                for f in _findings(p, data.files, modules, same, vouched or {}, closure)
            ]
            reasons = tuple(why for changed, why in found if changed)
            out[unit] = Verdict(unit, reasons, tuple(why for changed, why in found if not changed))
    return out


def oldest_start(data: Processes) -> float | None:
    """When the oldest process read started (packages installed since then matter)."""
    return min((p.started for p in data.processes.values()), default=None)
