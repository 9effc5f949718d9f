"""The one simulated host of the tests: the tools stackstep runs on a cloud host
(systemctl, service, chkconfig, yum/dnf, rpm, runuser and the ``*-status`` upgrade
checks, uname, hostname, cat of the boot id, nova/openstack service commands, shutdown,
df...) understood by name, verb and option, over a state that the test writes and reads.

It runs two ways, with the same model (``HostModel``):

- in process, for unit tests: ``SimHost`` keeps the state in memory (``MemoryStore``)
  and answers a ``FakeTransport`` (``sim.transport()``); what no simulated tool covers
  (``sh -c`` scripts, ``test``, other files' ``cat``) is answered by ``SimSystem``;
- as programs, for the fake-tools tier (tests/e2e, tests/integration): every tool name on
  a fake host's PATH links to ``tests/e2e/fakebin.py``, which runs this model over files
  under ``$FAKE_ROOT`` (``FileStore``); what is not simulated runs the real program
  (``RealSystem``), and stackstep, its transports and its journal are all real.

The state (a key is a file name under ``$FAKE_ROOT``; the test writes the knobs):

- ``calls.log``: every tool call, one line of argv (the model appends it);
- ``units/NAME``: a unit's state (``active`` when absent); ``unit-files``: the unit files
  ``systemctl list-unit-files`` (or ``chkconfig --list``) knows; ``started/NAME``: the
  clock when the unit last started;
- ``fail``: a substring; a call whose line contains it prints an error and exits 1
  (``fail-output``: the last line it prints, ``the last line of output says why`` when
  absent). fakebin.py adds ``pause``/``release`` (stop mid-call, for kill tests);
- ``packages`` ("NAME VERSION" lines): ``rpm -qa --qf`` with ``%{VERSION}`` reports them,
  ``yum upgrade GLOB`` takes the new ones from ``upgrades``, ``yum downgrade NAME-VERSION``
  sets them; ``installed`` ("CLOCK NAME" lines, rpm's INSTALLTIME): what
  ``rpm -qa --qf`` lists otherwise, and the full ``yum -y upgrade`` adds
  ``final-upgrade-installs`` to it (and replaces the real files its ``files/NAME``
  lists, as rpm would: with new content, the same for those ``final-upgrade-same``
  names); ``rpm -ql NAME`` prints ``files/NAME``, ``rpm -qa --qf`` with
  ``%{FILEDIGESTS}`` their sha256; ``rpm-qa``: plain
  ``rpm -qa``; ``pid/NAME``: a unit's MainPID (a real process the test started);
- ``uname``, ``kernels`` (``rpm -q --last``), ``df.txt``, ``hostname``, ``service-list``
  (nova/openstack ``... list``), ``status-exit`` / ``status-exit-new`` (the ``*-status
  upgrade check`` before / after its service's packages were upgraded);
- reboots: ``boot_id``; ``systemctl reboot`` (SysV: ``shutdown -r now``) writes a new
  one, runs the ``uname-after-reboot`` kernel, leaves the ``after-reboot-failed`` units
  failed and with ``reboot-cuts-ssh`` cuts the session; with ``reboot-hangs`` nothing
  happens (the host never comes back); ``reboot-status``: its exit status (0);
- ``sysv``: the host has no systemd (``systemctl`` not found, ``test -d
  /run/systemd/system`` false, ``chkconfig --list`` lists the ``unit-files``).

Only the standard library here: fakebin.py runs it with the host's ``python3``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from stackstep.transport.fake import Call, FakeTransport, Reply

BOOT_ID = "/proc/sys/kernel/random/boot_id"
SYSTEMD_DIR = "/run/systemd/system"
KERNEL = "5.14.0-70.el9.x86_64"
FAILED_LINE = "the last line of output says why"
ROOMY_DF = (
    "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
    + "/dev/x 100000000 1 99999999 1% /\n" * 2
)
# options that take a value, per tool (the value is not an operand)
VALUED = {
    "systemctl": {"-p", "--property", "-t", "--type", "-H", "--host"},
    "rpm": {"--qf", "--queryformat"},
    "yum": {"--setopt", "--enablerepo", "--disablerepo"},
    "dnf": {"--setopt", "--enablerepo", "--disablerepo", "--destdir"},
    "runuser": {"-u", "--user", "-g", "--group"},
}


@dataclass(frozen=True)
class Answer:
    status: int = 0
    stdout: str = ""
    stderr: str = ""


class SessionCut(Exception):
    """The session running the command was cut (a reboot dropping the SSH connection)."""


@dataclass(frozen=True)
class Args:
    """A tool's arguments: the verb/operands (``--`` ends options) and the options."""

    operands: list[str]
    options: dict[str, str]  # option -> its value ("" for a flag)

    @classmethod
    def parse(cls, tool: str, args: list[str]) -> Args:
        operands: list[str] = []
        options: dict[str, str] = {}
        valued = VALUED.get(tool, set())
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                operands += list(rest)
            elif arg.startswith("-") and arg != "-":
                key, eq, value = arg.partition("=")
                options[key] = value if eq else next(rest, "") if key in valued else ""
            else:
                operands.append(arg)
        return cls(operands, options)

    @property
    def verb(self) -> str:
        return self.operands[0] if self.operands else ""

    def has(self, *flags: str) -> bool:
        return any(f in self.options for f in flags)


# --- where the state lives -------------------------------------------------------------


class MemoryStore:
    """The state as a dict (unit tests)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data: dict[str, str] = {}

    def read(self, key: str, default: str = "") -> str:
        return self.data.get(key, default)

    def write(self, key: str, text: str) -> None:
        self.data[key] = text

    def exists(self, key: str) -> bool:
        return key in self.data

    def remove(self, key: str) -> None:
        self.data.pop(key, None)

    def append(self, key: str, text: str) -> None:
        self.data[key] = self.data.get(key, "") + text


class FileStore(MemoryStore):
    """The state as files under a fake host's root (``$FAKE_ROOT``)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root.name)
        self.root = root

    def read(self, key: str, default: str = "") -> str:
        path = self.root / key
        return path.read_text() if path.exists() else default

    def write(self, key: str, text: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def remove(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def append(self, key: str, text: str) -> None:
        with open(self.root / key, "a") as out:
            out.write(text)


# --- what is not simulated ---------------------------------------------------------------


class RealSystem:
    """Under fakebin.py: the real programs, the real clock, the real processes (a unit's
    MainPID is 0, no process, unless the test started one: ``pid/NAME``; its start time
    is the boot) and the real SSH session."""

    PROGRAMS: ClassVar = {"cat": "/bin/cat", "test": "/usr/bin/test", "df": "/bin/df"}

    def clock(self) -> int:
        return int(time.time())

    def main_pid(self, unit: str) -> int:
        return 0

    def monotonic_us(self, started: int) -> int:
        return 1

    def real(self, argv: list[str]) -> Answer:
        program = self.PROGRAMS.get(argv[0])
        if program is None:
            return Answer()
        os.execv(program, [argv[0], *argv[1:]])
        raise AssertionError("not reached")

    def cut_session(self) -> None:
        """Kill the sshd process serving this command, as a reboot cuts the connection."""
        pid = os.getppid()
        while pid > 1:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")].startswith("sshd"):
                os.kill(pid, signal.SIGKILL)
                return
            pid = int(stat.rpartition(")")[2].split()[1])


class SimSystem:
    """In process: a clock (the test's, or one that ticks per call), a unit's main PID
    (100 + the order the host first saw it), a few files (``cat``, ``test``), ``df`` with
    room to spare, the ``sh -c`` scripts stackstep sends (sourcing credentials, the clock
    and process ages), and a cut session raising ``SessionCut``."""

    def __init__(
        self,
        store: MemoryStore,
        clock: Callable[[], int] | None,
        files: dict[str, str],
    ) -> None:
        self.store = store
        self._clock = clock
        self.files = files
        self.dirs = {SYSTEMD_DIR}
        self.pids: list[str] = []
        self.run: Callable[[list[str]], Answer] = lambda argv: Answer()

    def clock(self) -> int:
        if self._clock is not None:
            return self._clock()
        return self.store.read("calls.log").count("\n")

    def main_pid(self, unit: str) -> int:
        if unit not in self.pids:
            self.pids.append(unit)
        return 100 + self.pids.index(unit)

    def monotonic_us(self, started: int) -> int:
        return started * 1_000_000  # booted at clock 0

    def real(self, argv: list[str]) -> Answer:
        name, args = argv[0], argv[1:]
        if name == "cat" and args and args[-1] in self.files:
            return Answer(0, self.files[args[-1]])
        if name == "cat":
            return Answer(1, "", f"cat: {args[-1] if args else ''}: No such file or directory\n")
        if name == "test" and len(args) == 2:
            found = args[1] in self.dirs if args[0] == "-d" else args[1] in self.files
            return Answer(0 if found else 1)
        if name == "df":
            return Answer(0, ROOMY_DF)
        if name == "sh" and args[:1] == ["-c"]:
            return self.sh(args[1], args[3:])
        return Answer()

    def sh(self, script: str, params: list[str]) -> Answer:
        if script.startswith('. "$1" && shift && exec "$@"'):  # credentials, then a client
            if params[0] not in self.files:
                return Answer(2, "", f"sh: 1: .: cannot open {params[0]}: No such file\n")
            return self.run(params[1:])
        if "etimes" in script:  # the clock, the uptime, then each PID and its age
            now = self.clock()
            gone = self.store.read("processes-gone").split()
            out = f"{now}\n{now}.0\n"
            for pid in (int(p) for p in params[0].split(",") if p):
                unit = self.pids[pid - 100]
                if unit not in gone:
                    out += f"{pid} {now - int(self.store.read(f'started/{unit}', '0'))}\n"
            return Answer(0, out)
        return Answer()

    def cut_session(self) -> None:
        raise SessionCut(self.store.name)


# --- the host ----------------------------------------------------------------------------


class HostModel:
    """The simulated tools over a store; ``run(argv)`` answers one command."""

    def __init__(self, store: MemoryStore, system: RealSystem | SimSystem) -> None:
        self.store = store
        self.system = system

    # the state, as the tools see it

    def unit_state(self, unit: str) -> str:
        return self.store.read(f"units/{unit}", "active")

    def versions(self) -> dict[str, str]:
        return self._pairs("packages")

    def _pairs(self, key: str) -> dict[str, str]:
        lines = self.store.read(key).splitlines()
        return dict(line.split(None, 1) for line in lines if line.strip())

    def failing(self, line: str) -> bool:
        return self.store.exists("fail") and self.store.read("fail").strip() in line

    @property
    def reboots(self) -> int:
        """Reboots the host accepted (hung ones included)."""
        return int(self.store.read("reboots", "0"))

    # one command

    def run(self, argv: list[str]) -> Answer:
        line = " ".join(argv)
        self.store.append("calls.log", line + "\n")
        if self.failing(line):
            out = self.store.read("fail-output", FAILED_LINE).strip()
            return Answer(1, out + "\n", f"{argv[0]}: simulated failure\n")
        name = Path(argv[0]).name
        if name.endswith("-status"):
            return self.upgrade_check(name)
        tool = getattr(self, "tool_" + name.replace("-", "_"), None)
        if tool is None:  # a *-manage tool, find, needs-restarting, sh...
            return self.system.real(argv)
        answer: Answer = tool(argv, Args.parse(name, argv[1:]))
        return answer

    # systemd, SysV init

    def tool_systemctl(self, argv: list[str], args: Args) -> Answer:
        if self.store.exists("sysv"):
            return Answer(127, "", "sh: systemctl: command not found\n")
        verb, units = args.verb, args.operands[1:]
        if verb == "reboot":
            return self.reboot()
        if verb == "list-unit-files":
            return self.unit_files(units)
        if verb == "list-units":
            return self.loaded_units(units)
        if verb == "show":
            return self.show(units)
        if verb in ("start", "stop", "restart"):
            for unit in units:
                self.set_unit(unit, verb)
        elif verb == "is-active":
            states = [self.unit_state(u) for u in units]
            return Answer(0 if all(s == "active" for s in states) else 3, "\n".join(states) + "\n")
        return Answer()

    def set_unit(self, unit: str, action: str) -> None:
        self.store.write(f"units/{unit}", "inactive" if action == "stop" else "active")
        if action != "stop":
            self.store.write(f"started/{unit}", str(self.system.clock()))

    def unit_files(self, patterns: list[str]) -> Answer:
        found = self.units_matching(patterns)
        return Answer(0 if found else 1, "".join(f"{u}.service enabled enabled\n" for u in found))

    def units_matching(self, patterns: list[str]) -> list[str]:
        known = self.store.read("unit-files").split()
        return [u for u in known if any(fnmatch.fnmatch(f"{u}.service", p) for p in patterns)]

    def loaded_units(self, patterns: list[str]) -> Answer:
        """``list-units --all --plain``: every known unit is loaded here."""
        lines = []
        for unit in self.units_matching(patterns):
            state = self.unit_state(unit)
            sub = "running" if state == "active" else "dead"
            lines.append(f"{unit}.service loaded {state} {sub} simulated {unit}\n")
        return Answer(0, "".join(lines))

    def show(self, units: list[str]) -> Answer:
        records = []
        for unit in units:
            name = unit.removesuffix(".service")
            state = self.unit_state(name)
            started = int(self.store.read(f"started/{name}", "0"))
            records.append(
                f"Id={name}.service\nLoadState=loaded\nActiveState={state}\n"
                f"SubState={'running' if state == 'active' else 'dead'}\n"
                f"UnitFileState=enabled\nMainPID={self.main_pid(name)}\n"
                f"ExecMainStartTimestampMonotonic={self.system.monotonic_us(started)}\n"
            )
        return Answer(0, "\n".join(records))

    def main_pid(self, unit: str) -> int:
        given = self.store.read(f"pid/{unit}").strip()
        return int(given) if given.isdigit() else self.system.main_pid(unit)

    def tool_service(self, argv: list[str], args: Args) -> Answer:
        unit, action = args.operands[0], args.operands[1]
        if action == "status":
            return Answer(0 if self.unit_state(unit) == "active" else 3)
        self.set_unit(unit, action)
        return Answer()

    def tool_chkconfig(self, argv: list[str], args: Args) -> Answer:
        units = self.store.read("unit-files").split()
        return Answer(
            0, "".join(f"{u:<15} \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n" for u in units)
        )

    def tool_test(self, argv: list[str], args: Args) -> Answer:
        if argv[1:] == ["-d", SYSTEMD_DIR] and self.store.exists("sysv"):
            return Answer(1)
        return self.system.real(argv)

    # packages

    def tool_rpm(self, argv: list[str], args: Args) -> Answer:
        fmt = args.options.get("--qf", "")
        if args.has("-q") and args.has("--last"):
            return Answer(0, self.store.read("kernels"))
        if args.has("-ql"):
            name = args.operands[0] if args.operands else ""
            if not self.store.exists(f"files/{name}"):
                return Answer(1, f"package {name} is not installed\n")
            return Answer(0, self.store.read(f"files/{name}"))
        if not args.has("-qa"):
            return Answer()
        if "%{FILEDIGESTS}" in fmt:
            return Answer(0, self.file_digests())
        if "%{VERSION}" in fmt and self.store.exists("packages"):
            globs = args.operands
            return Answer(
                0,
                "".join(
                    f"{pkg}\t{version}\tnoarch\t0\n"
                    for pkg, version in self.versions().items()
                    if not globs or any(fnmatch.fnmatch(pkg, g) for g in globs)
                ),
            )
        return Answer(0, self.store.read("installed" if fmt else "rpm-qa"))

    def tool_yum(self, argv: list[str], args: Args) -> Answer:
        verb, specs = args.verb, args.operands[1:]
        if verb in ("upgrade", "downgrade") and specs and self.store.exists("packages"):
            self.change_versions(verb, specs)
        elif verb == "upgrade" and not specs and args.has("-y") and not args.has("--downloadonly"):
            # the full upgrade installs what the test listed in final-upgrade-installs
            stamp = self.system.clock()
            new = self.store.read("final-upgrade-installs").split()
            self.store.append("installed", "".join(f"{stamp} {p}\n" for p in new))
            for package in new:
                self.replace_files(package)
        return Answer()

    def replace_files(self, package: str) -> None:
        """As rpm installs a package: each regular file it lists (``files/NAME``, real
        paths) is written aside and renamed over the old one (a new inode and ctime),
        with new content, or the same for a package in ``final-upgrade-same``."""
        same = package in self.store.read("final-upgrade-same").split()
        for line in self.store.read(f"files/{package}").splitlines():
            path = Path(line.strip())
            if line.strip() and path.is_file():
                aside = path.with_name(path.name + ".rpmnew-tmp")
                aside.write_bytes(path.read_bytes() + (b"" if same else b"# upgraded\n"))
                aside.rename(path)

    def file_digests(self) -> str:
        """``rpm -qa --qf '=%{FILEDIGESTALGO}\\n[%{FILEDIGESTS} %{FILENAMES}\\n]'``: per
        package with ``files/NAME`` (those ``installed`` or ``final-upgrade-installs``
        name), sha256, each regular file's digest (empty for directories, as rpm's)."""
        names = [line.split()[-1] for line in self.store.read("installed").splitlines() if line]
        names += self.store.read("final-upgrade-installs").split()
        out = []
        for name in dict.fromkeys(names):
            if not self.store.exists(f"files/{name}"):
                continue
            out.append("=8\n")
            for line in self.store.read(f"files/{name}").splitlines():
                path = Path(line.strip())
                digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
                out.append(f"{digest} {path}\n")
        return "".join(out)

    tool_dnf = tool_yum

    def change_versions(self, verb: str, specs: list[str]) -> None:
        """``upgrade GLOB...`` takes versions from ``upgrades``; ``downgrade
        NAME-VERSION...`` sets them."""
        found, newer = self.versions(), self._pairs("upgrades")
        for spec in specs:
            if verb == "upgrade":
                found.update(
                    {p: newer[p] for p in found if fnmatch.fnmatch(p, spec) and p in newer}
                )
                continue
            pkg = max((p for p in found if spec.startswith(p + "-")), key=len)
            found[pkg] = spec[len(pkg) + 1 :]
        self.store.write("packages", "".join(f"{p} {v}\n" for p, v in found.items()))

    def tool_runuser(self, argv: list[str], args: Args) -> Answer:
        """Runs nothing but the ``*-status upgrade check`` (the *-manage tools it runs
        have nothing to say)."""
        command = args.operands
        if command and command[0].endswith("-status"):
            return self.upgrade_check(command[0])
        return Answer()

    def upgrade_check(self, tool: str) -> Answer:
        """``<svc>-status upgrade check``: the ``status-exit`` code (0 when absent),
        ``status-exit-new`` once the service's packages were upgraded; with the report
        oslo.upgradecheck prints."""
        service = tool.removesuffix("-status")
        calls = self.store.read("calls.log")
        upgraded = any(f"yum -y {c}upgrade -- *{service}*" in calls for c in ("", "-C "))
        new = self.store.read("status-exit-new") if upgraded else ""
        code = int((new or self.store.read("status-exit", "0")).strip() or "0")
        result = {0: "Success", 1: "Warning", 2: "Failure"}.get(code, "Error")
        out = "+----------------------------------+\n| Upgrade Check Results            |\n"
        out += f"| Check: Policy File JSON to YAML   |\n| Result: {result}\n"
        if code:
            out += "| Details: the policy file is still JSON |\n"
        return Answer(code, out)

    # kernels, boots, the host

    def tool_uname(self, argv: list[str], args: Args) -> Answer:
        return Answer(0, self.store.read("uname", KERNEL).strip() + "\n")

    def tool_cat(self, argv: list[str], args: Args) -> Answer:
        if args.operands != [BOOT_ID]:
            return self.system.real(argv)
        if not self.store.exists("boot_id"):
            self.store.write("boot_id", f"{uuid.uuid4()}\n")
        return Answer(0, self.store.read("boot_id"))

    def tool_hostname(self, argv: list[str], args: Args) -> Answer:
        return Answer(0, self.store.read("hostname", self.store.name).strip() + "\n")

    def tool_shutdown(self, argv: list[str], args: Args) -> Answer:
        if args.has("-r") and args.operands == ["now"]:
            return self.reboot()
        return Answer()  # scheduled (shutdown -r TIME MESSAGE) or cancelled (-c)

    def reboot(self) -> Answer:
        self.store.write("reboots", str(self.reboots + 1))
        if self.store.exists("reboot-hangs"):
            return Answer()
        self.store.write("boot_id", f"{uuid.uuid4()}\n")
        if self.store.exists("uname-after-reboot"):
            self.store.write("uname", self.store.read("uname-after-reboot"))
        for unit in self.store.read("after-reboot-failed").split():
            self.store.write(f"units/{unit}", "failed")
        if self.store.exists("reboot-cuts-ssh"):
            self.system.cut_session()
        return Answer(int(self.store.read("reboot-status", "0")))

    def tool_nova(self, argv: list[str], args: Args) -> Answer:
        """``nova service-list`` / ``openstack compute service list`` print
        ``service-list``; enabling and disabling says nothing."""
        listing = "service-list" in args.operands or "list" in args.operands
        return Answer(0, self.store.read("service-list") if listing else "")

    tool_openstack = tool_nova

    def tool_df(self, argv: list[str], args: Args) -> Answer:
        if self.store.exists("df.txt"):
            return Answer(0, self.store.read("df.txt"))
        return self.system.real(argv)


class SimHost(HostModel):
    """A simulated host in process, for a ``FakeTransport``: ``files`` are the paths
    ``cat`` and ``test`` find (credentials files...), ``clock`` the host's clock (by
    default one tick per command)."""

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], int] | None = None,
        files: dict[str, str] | None = None,
        **state: str,
    ) -> None:
        store = MemoryStore(name)
        system = SimSystem(store, clock, dict(files or {}))
        super().__init__(store, system)
        system.run = self.run
        self.name = name
        self.files = system.files
        for key, text in state.items():
            self.store.write(key.replace("_", "-"), text)

    def answer(self, call: Call) -> Reply:
        """The FakeTransport handler: the model's answer; a cut session is a dropped
        connection."""
        from stackstep.errors import HostUnreachable
        from stackstep.transport.fake import Reply

        try:
            answer = self.run(call.command.reveal())
        except SessionCut:
            raise HostUnreachable(self.name, "connection to 10.0.0.1:22 lost: reset") from None
        return Reply(answer.status, answer.stdout, answer.stderr)

    def transport(self) -> FakeTransport:
        from stackstep.transport.fake import FakeTransport

        return FakeTransport(self.name, self.answer)

    def calls(self) -> list[str]:
        return self.store.read("calls.log").splitlines()
