"""The end state of an upgraded lab cloud, captured so that two runs can be compared
(the crash and fault campaigns: bench/crash.py, bench/faults.py, tests/lab/test_campaign.py).

What is captured, each as ``category -> key -> value`` (plain strings, so a difference is
printed as it is):

* ``packages/HOST``: every installed package and its epoch:version-release;
* ``units/HOST``: every service unit's enabled state and active/sub state;
* ``stale/HOST``: OpenStack units whose main process still maps a file an upgrade
  replaced (``(deleted)`` in /proc/PID/maps; none after a correct run). A unit started
  before the last package change is not stale by itself: the after phase keeps units whose
  loaded code did not change (docs/running.md), and when the last change happens depends
  on where a run was interrupted;
* ``configs/HOST``: checksum, mode and owner of every file (target of every link) under
  the services' /etc directories and /etc/yum.repos.d, set-aside files (``.rpmnew``,
  ``.rpmsave``) and stackstep's own copies (``.stackstep-RUN``) included;
* ``users/HOST``: the services' system users (uid, gid, home, shell);
* ``database``: every column, index, schema version (migrate_version, alembic_version) and
  the row count of every table on the database host;
* ``api``: the HTTP status and a digest of the body of each service's probe;
* ``steps``: each step's final state in the journal.

Nothing time-dependent is captured: a run id inside a file name is written ``RUN``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stackstep.lab.lab import Lab

State = dict[str, dict[str, str]]

CONFIG_DIRS = (
    "/etc/keystone",
    "/etc/swift",
    "/etc/cinder",
    "/etc/glance",
    "/etc/quantum",
    "/etc/neutron",
    "/etc/nova",
    "/etc/openstack-dashboard",
    "/etc/httpd",
    "/etc/yum.repos.d",
)
SERVICE_USERS = (
    "keystone",
    "swift",
    "cinder",
    "glance",
    "quantum",
    "neutron",
    "nova",
    "apache",
    "mysql",
)
OPENSTACK_UNITS = r"^(openstack-|quantum-|neutron-|httpd)"
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")
# units whose state follows the clock or the SSH sessions, not the upgrade
VOLATILE_UNITS = re.compile(r"^(ssh@|sshd@|user@|user-runtime-dir@|systemd-tmpfiles-clean)")

# One line per fact, TAB-separated: category, key, value.
_HOST_SCRIPT = r"""
export LC_ALL=C
rpm -qa --qf 'packages\t%{NAME}.%{ARCH}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n'
systemctl list-unit-files --type=service --no-legend --no-pager \
  | awk '{printf "enabled\t%s\t%s\n", $1, $2}'
systemctl list-units --type=service --all --no-legend --no-pager --plain \
  | awk '{printf "active\t%s\t%s/%s\n", $1, $3, $4}'
for dir in "$@"; do
  [ -d "$dir" ] || continue
  find "$dir" -xdev \( -type f -o -type l \) | sort | while IFS= read -r f; do
    if [ -L "$f" ]; then printf 'configs\t%s\t-> %s\n' "$f" "$(readlink -- "$f")"
    else printf 'configs\t%s\t%s %s\n' "$f" "$(stat -c '%a %U:%G' -- "$f")" \
      "$(sha256sum -- "$f" | cut -c1-16)"; fi
  done
done
for u in $USERS; do
  line=$(getent passwd "$u") && printf 'users\t%s\t%s\n' "$u" "$(echo "$line" | cut -d: -f3,4,6,7)"
done
systemctl list-units --type=service --state=active --no-legend --no-pager --plain \
  | awk '{print $1}' | grep -E "$UNITS" | while read -r u; do
  pid=$(systemctl show -p MainPID --value "$u")
  [ "${pid:-0}" -gt 0 ] || continue
  grep -qE ' /(usr|lib|lib64|bin|sbin|opt)/.* \(deleted\)$' "/proc/$pid/maps" 2>/dev/null \
    && printf 'stale\t%s\tmaps a file an upgrade replaced\n' "$u"
done
true
"""

_DB_SCRIPT = r"""
export LC_ALL=C
q() { mysql -N -B -r -e "$1"; }
SKIP="'mysql','information_schema','performance_schema','sys'"
q "SELECT CONCAT('column\t', table_schema, '.', table_name, '.', column_name, '\t',
  column_type, ' ', is_nullable, ' ', IFNULL(column_default, '-'))
  FROM information_schema.columns WHERE table_schema NOT IN ($SKIP)"
q "SELECT CONCAT('index\t', table_schema, '.', table_name, '.', index_name, '\t',
  GROUP_CONCAT(column_name ORDER BY seq_in_index), ' unique=', 1 - MIN(non_unique))
  FROM information_schema.statistics WHERE table_schema NOT IN ($SKIP)
  GROUP BY table_schema, table_name, index_name"
q "SELECT table_schema, table_name FROM information_schema.tables
  WHERE table_schema NOT IN ($SKIP) AND table_type = 'BASE TABLE'" |
while read -r db table; do
  case "$table" in
    migrate_version) column=version ;;
    alembic_version) column=version_num ;;
    *) column= ;;
  esac
  [ -n "$column" ] && q "SELECT CONCAT('version\t$db.$table\t', $column) FROM \`$db\`.$table"
  q "SELECT CONCAT('rows\t$db.$table\t', COUNT(*)) FROM \`$db\`.\`$table\`"
done
"""


def _lines(text: str) -> Iterator[tuple[str, str, str]]:
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            yield parts[0], RUN_ID.sub("RUN", parts[1]), parts[2]


def capture_host(lab: Lab, host: str) -> State:
    """Packages, units, stale units, config files and service users of one lab host."""
    argv = ["env", f"USERS={' '.join(SERVICE_USERS)}", f"UNITS={OPENSTACK_UNITS}"]
    proc = lab.host(host).exec([*argv, "sh", "-c", _HOST_SCRIPT, "sh", *CONFIG_DIRS])
    state: State = {f"{c}/{host}": {} for c in ("packages", "units", "stale", "configs", "users")}
    for category, key, value in _lines(proc.stdout):
        if category in ("enabled", "active"):
            if VOLATILE_UNITS.match(key):
                continue
            unit = state[f"units/{host}"]
            unit[key] = f"{unit[key]} {value}" if key in unit else value
            continue
        state[f"{category}/{host}"][key] = value
    return state


def capture_database(lab: Lab, host: str) -> dict[str, str]:
    proc = lab.host(host).exec(["sh", "-c", _DB_SCRIPT])
    return {f"{c} {k}": v for c, k, v in _lines(proc.stdout)}


def probes(plan: dict[str, object]) -> list[tuple[str, str, str]]:
    """(service, host, url) of each verify step's API probe in a plan's JSON."""
    found: list[tuple[str, str, str]] = []

    def walk(node: object) -> None:
        if not isinstance(node, dict):
            return
        for child in node.get("children") or []:
            walk(child)
        data = node.get("data")
        probe = data.get("probe") if isinstance(data, dict) else None
        if node.get("kind") == "verify" and isinstance(probe, dict):
            service = str(node.get("id", "")).split("/")[1]
            found.append((service, str(node.get("host")), str(probe.get("url"))))

    walk(plan.get("root"))
    return found


def capture_api(lab: Lab, plan: dict[str, object]) -> dict[str, str]:
    answers = {}
    for service, host, url in probes(plan):
        script = 'b=$(curl -s -m 10 -w "\\n%{http_code}" "$1"); echo "$b" | tail -1; '
        script += "echo \"$b\" | sed '$d' | sha256sum | cut -c1-12"
        proc = lab.host(host).exec(["sh", "-c", script, "sh", url], check=False)
        code, _, digest = proc.stdout.strip().partition("\n")
        answers[f"{service} {url}"] = f"HTTP {code} body {digest}"
    return answers


def journal_run(journal: Path) -> tuple[str, dict[str, object]]:
    """The (only or latest) run in a journal: its id and plan."""
    with sqlite3.connect(journal) as db:
        row = db.execute("SELECT id, plan_json FROM runs ORDER BY created DESC LIMIT 1").fetchone()
    return str(row[0]), json.loads(row[1])


def capture_steps(journal: Path, run_id: str) -> dict[str, str]:
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT step_id, state FROM steps WHERE run_id=?", (run_id,))
        return {str(step): str(state) for step, state in rows}


def capture(lab: Lab, journal: Path, db_host: str = "controller") -> State:
    """The whole end state of the lab cloud after the journal's run."""
    run_id, plan = journal_run(journal)
    state: State = {}
    lab_state = lab.state
    assert lab_state is not None, "the lab is down"
    with ThreadPoolExecutor(max_workers=len(lab_state.hosts)) as pool:
        for part in pool.map(lambda h: capture_host(lab, h.name), lab_state.hosts):
            state.update(part)
    state["database"] = capture_database(lab, db_host)
    state["api"] = capture_api(lab, plan)
    state["steps"] = capture_steps(journal, run_id)
    return state


def differences(reference: State, got: State, limit: int = 40) -> list[str]:
    """Every way ``got`` differs from ``reference``, one line each (at most ``limit``)."""
    out: list[str] = []
    for category in sorted(set(reference) | set(got)):
        ref, new = reference.get(category, {}), got.get(category, {})
        for key in sorted(set(ref) | set(new)):
            if ref.get(key) != new.get(key):
                was = ref.get(key, "(absent)")
                out.append(
                    f"{category}: {key}: expected {was!r}, found {new.get(key, '(absent)')!r}"
                )
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def repeats_after_done(journal: Path, run_id: str) -> list[str]:
    """Steps started again after the journal had recorded them done or skipped: a step
    that is not safe to repeat must never be (resume skips what is done)."""
    finished: set[str] = set()
    found: list[str] = []
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT kind, step_id FROM events WHERE run_id=? AND step_id IS NOT NULL ORDER BY id",
            (run_id,),
        ).fetchall()
    for kind, step in rows:
        if kind in ("step-finished", "step-skipped"):
            finished.add(step)
        elif kind == "step-started" and step in finished:
            found.append(f"{step}: started again after it was journalled done")
    return found


def rerun_after_kill(journal: Path, run_id: str) -> list[str]:
    """Steps that were running when stackstep died and that resume probed: what each
    probe said (already done, or run again)."""
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT step_id, message FROM events WHERE run_id=? AND kind='step-probed' ORDER BY id",
            (run_id,),
        ).fetchall()
    return [f"{step}: {message.split('; ', 1)[-1]}" for step, message in rows]


def run_status(journal: Path) -> str:
    with sqlite3.connect(journal) as db:
        row = db.execute("SELECT status FROM runs ORDER BY created DESC LIMIT 1").fetchone()
    return str(row[0]) if row else "no run"
