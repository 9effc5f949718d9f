"""Record tests/data/outputs/digests/: what drivers/digests.py's commands print about real
packages and real processes, before and after a full upgrade wrote their files again.
Run from the repository root as root: PYTHONPATH=src python3 THIS (needs rpm, rpmbuild).

Two throwaway rpms (_scripts/digests.spec) are built and installed into a scratch rpm
root: ``openstack-lab-common`` (a stand-in API's script, a module, a shared library, a
command, a README) and ``python-fakeclient`` (a shared library). ``rpm-qa-filedigests.txt`` is
what the real rpm prints for the record's query there. The same files are laid out under
a scratch folder (the "host"), where a stand-in ``rpm`` answers with that real output,
its paths moved under the folder. Two real Python processes run from it: ``standin``
runs the script, imports the module and maps its library; ``client`` imports the
module and maps the client's library. The record is taken, then the "upgrade" writes
every file again (aside, then renamed over, as rpm does): openstack-lab-common's with
the same bytes, python-fakeclient's with new ones; then the processes and the check
are recorded, with the run's record and for a run without one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stackstep.drivers import digests, loaded

OUT = Path("tests/data/outputs/digests")
SPEC = Path("tests/data/outputs/_scripts/digests.spec")
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
FILES = {  # path under /opt/openstack-lab -> package
    "standin.py": "openstack-lab-common",
    f"lib/{PY}/site-packages/standin_lib.py": "openstack-lab-common",
    "lib64/libstandin.so.1": "openstack-lab-common",
    "bin/standin-manage": "openstack-lab-common",
    "README": "openstack-lab-common",
    "lib64/libfakeclient.so.1": "python-fakeclient",
}
STANDIN = """import ctypes, sys, time
sys.path.insert(0, sys.argv[1])
import standin_lib
ctypes.CDLL(sys.argv[2])
time.sleep(600)
"""
RUN = "20261205-120000-dg01"


def run(command, env=None) -> str:
    done = subprocess.run(command.reveal(), capture_output=True, text=True, env=env, check=True)
    return done.stdout


def lay_out(top: Path) -> None:
    """The packages' files under ``top``/opt/openstack-lab."""
    base = top / "opt" / "openstack-lab"
    for rel in FILES:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
    (base / "standin.py").write_text(STANDIN)
    (base / f"lib/{PY}/site-packages/standin_lib.py").write_text("API = 'v2'\n")
    libz = next(Path("/usr/lib").rglob("libz.so.1"))
    shutil.copy(libz, base / "lib64/libstandin.so.1")
    shutil.copy(libz, base / "lib64/libfakeclient.so.1")
    (base / "bin/standin-manage").write_text("#!/bin/sh\necho manage\n")
    (base / "bin/standin-manage").chmod(0o755)
    (base / "README").write_text("the lab's stand-in APIs\n")


def real_rpm_output(work: Path) -> str:
    """rpm's own answer to the record's query, about the two packages installed."""
    lay_out(work / "src")
    top = work / "build"
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", "--define",
         f"srcdir {work / 'src'}", "--define", "_target_cpu x86_64", str(SPEC)],
        check=True, capture_output=True,
    )  # fmt: skip
    root = work / "root"
    subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True)
    rpms = [str(p) for p in (top / "RPMS").rglob("*.rpm")]
    subprocess.run(["rpm", "--root", str(root), "-i", "--nodeps", *rpms], check=True)
    query = "=%{FILEDIGESTALGO}\\n[%{FILEDIGESTS} %{FILENAMES}\\n]"
    done = subprocess.run(
        ["rpm", "--root", str(root), "-qa", "--qf", query.replace("\\n", "\n")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout


def stand_in_rpm(host: Path, recorded: Path) -> None:
    """``rpm -qa --qf ...`` prints the real output, its paths under ``host``; ``rpm -ql``
    lists a package's files there."""
    lists = {
        p: [f"{host}/opt/openstack-lab/{r}" for r, q in FILES.items() if q == p]
        for p in FILES.values()
    }
    cases = "".join(
        f'    {name}) printf "%s\\n" {" ".join(repr(f) for f in files)} ;;\n'
        for name, files in lists.items()
    )
    (host / "bin").mkdir()
    (host / "bin" / "rpm").write_text(
        "#!/bin/sh\n"
        f'[ "$1" = -qa ] && exec sed "s| /opt/| {host}/opt/|" {recorded}\n'
        f'case "$3" in\n{cases}    *) echo "package $3 is not installed"; exit 1 ;;\nesac\n'
    )
    (host / "bin" / "rpm").chmod(0o755)


def write_again(path: Path, text: bytes) -> None:
    aside = path.with_name(path.name + ".rpmnew-tmp")
    aside.write_bytes(text)
    aside.rename(path)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="stackstep-digests-", dir="/tmp"))
    OUT.mkdir(exist_ok=True)
    raw = OUT / "rpm-qa-filedigests.txt"
    raw.write_text(real_rpm_output(work))
    host = work / "host"
    lay_out(host)
    stand_in_rpm(host, raw.resolve())
    env = dict(os.environ, PATH=f"{host / 'bin'}:{os.environ['PATH']}")
    env["STACKSTEP_RECORD_DIR"] = str(host / "records")
    base = host / "opt" / "openstack-lab"
    site, lib = base / "lib" / PY / "site-packages", base / "lib64" / "libstandin.so.1"
    time.sleep(1.1)  # every file older than the processes, as after an install
    standin = subprocess.Popen([sys.executable, str(base / "standin.py"), str(site), str(lib)])
    code = f"import ctypes, sys, time; sys.path.insert(0, {str(site)!r}); import standin_lib; "
    code += f"ctypes.CDLL({str(base / 'lib64' / 'libfakeclient.so.1')!r}); time.sleep(600)"
    client = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(1.5)
        (OUT / "record-rpm.txt").write_text(run(digests.record_command("rpm", RUN), env))
        (OUT / "record-rpm-again.txt").write_text(run(digests.record_command("rpm", RUN), env))
        shutil.copy(host / "records" / RUN / "file-digests", OUT / "file-digests-rpm.txt")
        time.sleep(1.1)
        for rel, package in FILES.items():
            path = base / rel
            same = package == "openstack-lab-common"
            write_again(path, path.read_bytes() + (b"" if same else b"# 1.1\n"))
        text = run(loaded.processes_command([standin.pid, client.pid]))
        (OUT / "processes.txt").write_text(text)
        data = loaded.parse_processes(text)
        assert data is not None
        since = (loaded.oldest_start(data) or 0) - loaded.MARGIN
        files = loaded.candidate_files(data)
        packages = ["openstack-lab-common", "python-fakeclient"]
        check = digests.check_command(RUN, since, packages, files)
        (OUT / "check.txt").write_text(run(check, env))
        check = digests.check_command("20261205-120000-none", since, packages, files)
        (OUT / "check-no-record.txt").write_text(run(check, env))
        print(f"pids standin {standin.pid} client {client.pid}, scratch {work}")
    finally:
        standin.kill()
        client.kill()
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
