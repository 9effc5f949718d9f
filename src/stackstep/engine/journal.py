"""The journal: one SQLite database (WAL) in the state directory, files 0600.

It holds every run (plan JSON and hash, facts, inventory digest, the run request, tool
version, who and when), every step's latest state with times, exit status and the masked
tail of its output, and the append-only event log. A new process reads it to resume.

It also holds the availability prober's record (issue 13): one ``probe_sessions`` row per
command that probed a run (``upgrade``, ``resume``, ``restore``, ``reboot``: when it
started and ended, its interval) and the ``transitions`` each session saw (a target's
first sample and every change of up/down, :class:`stackstep.model.availability.Transition`).

Its schema version is SQLite's ``PRAGMA user_version``: 0 is a journal of the release
before versions (the same tables; its run requests are click's keyword arguments, which
:meth:`stackstep.session.RunRequest.from_json` still reads); 1 has no probe tables; 2 adds
them (empty for older runs). Opening an older one creates what it lacks and marks it
:data:`SCHEMA_VERSION`. A journal of a newer version is refused, not misread.

State directory: ``--state-dir``, else ``$STACKSTEP_STATE_DIR``, else
``$XDG_STATE_HOME/stackstep``, else ``~/.local/state/stackstep`` (docs/state.md).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from stackstep import __version__
from stackstep.engine.events import Event, EventBus
from stackstep.errors import InputError
from stackstep.model.availability import ProbeSession, ProbeTarget, StepSpan, Transition
from stackstep.model.load import LoadCount, LoadFailure, LoadSession
from stackstep.model.plan import Json, Plan, Step, StepKind
from stackstep.model.results import StepResult
from stackstep.model.states import RunStatus, StepState, run_status, step_state

SCHEMA_VERSION = 3

__all__ = ["Journal", "RunRecord", "RunStatus", "StepRecord", "StepState", "left_down"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created REAL, updated REAL, status TEXT, who TEXT, machine TEXT,
    pid INTEGER, tool_version TEXT, cloud TEXT, inventory TEXT, inventory_digest TEXT,
    catalog_digest TEXT, plan_hash TEXT, plan_json TEXT, facts_json TEXT, request_json TEXT,
    message TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT, step_id TEXT, state TEXT, host TEXT, kind TEXT, started REAL,
    finished REAL, exit_status INTEGER, output_tail TEXT, message TEXT, attempts INTEGER,
    data_json TEXT, service TEXT, PRIMARY KEY (run_id, step_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, time REAL, kind TEXT,
    step_id TEXT, host TEXT, message TEXT, data_json TEXT
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
CREATE TABLE IF NOT EXISTS probe_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, command TEXT, started REAL,
    ended REAL, interval REAL
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session INTEGER, service TEXT, host TEXT,
    endpoint TEXT, at REAL, up INTEGER, detail TEXT, previous REAL
);
CREATE INDEX IF NOT EXISTS transitions_session ON transitions (session, at);
CREATE TABLE IF NOT EXISTS load_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, command TEXT, started REAL,
    ended REAL, rate REAL, timeout REAL, keep INTEGER, tokens_off TEXT, note TEXT
);
CREATE TABLE IF NOT EXISTS load_counts (
    session INTEGER, service TEXT, endpoint TEXT, request TEXT, rate REAL, started REAL,
    ended REAL, requests INTEGER, failed INTEGER, kinds_json TEXT, late INTEGER,
    PRIMARY KEY (session, service, request)
);
CREATE TABLE IF NOT EXISTS load_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session INTEGER, service TEXT, request TEXT,
    at REAL, kind TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS load_failures_session ON load_failures (session, at);
"""


def new_run_id() -> str:
    """A new run's id: when it started, and 4 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.urandom(2).hex()}"


def default_state_dir() -> Path:
    env = os.environ.get("STACKSTEP_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "stackstep"


@dataclass(frozen=True)
class RunRecord:
    id: str
    created: float
    updated: float
    status: RunStatus
    who: str
    cloud: str
    inventory: str
    plan_hash: str
    plan_json: str
    facts_json: str
    request_json: str
    message: str
    tool_version: str
    pid: int | None = None  # the process that last started or ended the run

    @property
    def request(self) -> dict[str, Json]:
        """The run request as stored (``RunRequest.from_json`` reads it)."""
        loaded: dict[str, Json] = json.loads(self.request_json or "{}")
        return loaded


@dataclass(frozen=True)
class StepRecord:
    step_id: str
    state: StepState
    host: str | None
    kind: str
    started: float | None
    finished: float | None
    exit_status: int | None
    output_tail: str
    message: str
    attempts: int
    data: dict[str, Json]

    @property
    def result(self) -> StepResult:
        """What the step left besides its state and message, typed."""
        return StepResult.from_json(self.data)


def _private_dir(path: Path, *, parents: bool = False) -> None:
    """``path`` as a directory only its owner can enter (0700 whatever the umask) when
    it has to be made; a directory that was there is left as it is (it may be /tmp)."""
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        try:
            _private_dir(state_dir, parents=True)
            self.path = state_dir / "journal.sqlite"
            # 0600 before SQLite opens it (its -wal and -shm files take the same mode)
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise InputError(
                f"cannot create the state directory {state_dir}: {exc.strerror}",
                hint="choose another with --state-dir",
            ) from None
        with suppress(OSError):  # one an older version left 0644
            os.chmod(self.path, 0o600)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        version = self._version()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(steps)")}
        if "service" not in columns:  # 0 and 1 -> 2: the steps' service column
            self.db.execute("ALTER TABLE steps ADD COLUMN service TEXT")
        if version < SCHEMA_VERSION:  # 0 -> 1 -> 2 -> 3: tables and a column added
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION:d}")
        for extra in ("-wal", "-shm"):
            side = Path(str(self.path) + extra)
            if side.exists():
                os.chmod(side, 0o600)

    def _version(self) -> int:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            self.db.close()
            raise InputError(
                f"{self.path} is a journal of version {version}, newer than this "
                f"stackstep reads ({SCHEMA_VERSION})",
                hint="use the stackstep that wrote it, or another --state-dir",
            )
        return version

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def runs_dir(self) -> Path:
        """``runs/`` of the state directory (made 0700 when it is not there)."""
        _private_dir(self.state_dir / "runs")
        return self.state_dir / "runs"

    def run_dir(self, run_id: str) -> Path:
        path = self.runs_dir() / run_id
        _private_dir(path)
        return path

    def new_run(
        self,
        plan: Plan,
        facts: object,
        request: dict[str, Json],
        inventory: str,
        inventory_digest: str,
        catalog_digest: str,
        run_id: str | None = None,
    ) -> str:
        """A new run (``run_id``: one :func:`new_run_id` gave, e.g. to lock it first)."""
        run_id = run_id or new_run_id()
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    now,
                    now,
                    RunStatus.RUNNING,
                    getpass.getuser(),
                    socket.gethostname(),
                    os.getpid(),
                    __version__,
                    plan.cloud,
                    inventory,
                    inventory_digest,
                    catalog_digest,
                    plan.hash,
                    json.dumps(plan.to_dict()),
                    json.dumps(facts),
                    json.dumps(request),
                    "",
                ),
            )
            _insert_pending(db, run_id, list(plan.steps()))
        return run_id

    def set_status(self, run_id: str, status: RunStatus, message: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, message=?, updated=?, pid=? WHERE id=?",
                (status, message, time.time(), os.getpid(), run_id),
            )

    def replace_plan(self, run_id: str, plan: Plan) -> None:
        """After --replan: store the new plan; steps already done keep their state."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET plan_hash=?, plan_json=?, updated=? WHERE id=?",
                (plan.hash, json.dumps(plan.to_dict()), time.time(), run_id),
            )
            known = {
                r[0] for r in db.execute("SELECT step_id FROM steps WHERE run_id=?", (run_id,))
            }
            _insert_pending(db, run_id, [s for s in plan.steps() if s.id not in known])

    def step_started(self, run_id: str, step_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE steps SET state=?, started=?, finished=NULL, "
                "attempts=attempts+1 WHERE run_id=? AND step_id=?",
                (StepState.RUNNING, time.time(), run_id, step_id),
            )

    def step_ended(
        self,
        run_id: str,
        step_id: str,
        state: StepState,
        *,
        message: str = "",
        exit_status: int | None = None,
        output_tail: str = "",
        data: dict[str, Json] | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE steps SET state=?, finished=?, exit_status=?, output_tail=?, "
                "message=?, data_json=? WHERE run_id=? AND step_id=?",
                (
                    state,
                    time.time(),
                    exit_status,
                    output_tail,
                    message,
                    json.dumps(data or {}),
                    run_id,
                    step_id,
                ),
            )

    def reset_steps(self, run_id: str, step_ids: list[str]) -> None:
        """Make steps pending again (after `stackstep restore` rolled their service
        back, so that `resume` carries them out anew); attempts are kept."""
        with self._tx() as db:
            db.executemany(
                "UPDATE steps SET state=?, started=NULL, finished=NULL, "
                "exit_status=NULL, output_tail='', message='', data_json='{}' "
                "WHERE run_id=? AND step_id=?",
                [(StepState.PENDING, run_id, step_id) for step_id in step_ids],
            )

    def record(self, event: Event) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (run_id, time, kind, step_id, host, message, data_json)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    event.run_id,
                    event.time,
                    event.kind,
                    event.step_id,
                    event.host,
                    event.message,
                    json.dumps(event.data),
                ),
            )

    def publish(self, event: Event, bus: EventBus) -> None:
        """Journal ``event``, then emit it on ``bus``: a listener sees only what the
        journal holds."""
        self.record(event)
        bus.emit(event)

    # -- the availability prober's record ------------------------------------------

    def probe_started(self, run_id: str, command: str, interval: float) -> int:
        """A new probe session of ``run_id`` (``command``: upgrade, resume, ...); its id."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO probe_sessions (run_id, command, started, ended, interval) "
                "VALUES (?,?,?,NULL,?)",
                (run_id, command, time.time(), interval),
            )
        return int(cursor.lastrowid or 0)

    def probe_ended(self, session: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE probe_sessions SET ended=? WHERE id=?", (time.time(), session))

    def add_transition(self, session: int, t: Transition) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO transitions (session, service, host, endpoint, at, up, detail, "
                "previous) VALUES (?,?,?,?,?,?,?,?)",
                (
                    session,
                    t.target.service,
                    t.target.host,
                    t.target.endpoint,
                    t.at,
                    int(t.up),
                    t.detail,
                    t.previous,
                ),
            )

    def probe_sessions(self, run_id: str) -> list[ProbeSession]:
        """Every probe session of a run, in the order they started, with its
        transitions in time order. A session whose process was killed has no ``ended``:
        its last transition (or its start) stands for it."""
        sessions = self.db.execute(
            "SELECT id, command, started, ended, interval FROM probe_sessions "
            "WHERE run_id=? ORDER BY id",
            (run_id,),
        ).fetchall()
        found = []
        for sid, command, started, ended, interval in sessions:
            rows = self.db.execute(
                "SELECT service, host, endpoint, at, up, detail, previous FROM transitions "
                "WHERE session=? ORDER BY at, id",
                (sid,),
            )
            transitions = tuple(
                Transition(ProbeTarget(r[0], r[1] or "", r[2] or ""), r[3], bool(r[4]), r[5], r[6])
                for r in rows
            )
            found.append(ProbeSession(command, started, ended, interval, transitions))
        return found

    # -- the load generator's record ------------------------------------------------

    def load_started(
        self, run_id: str, command: str, rate: float, timeout: float, keep: int, note: str = ""
    ) -> int:
        """A new load session of ``run_id`` (``--load RATE``); its id. ``note``: why
        nothing is sent, if so."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO load_sessions (run_id, command, started, ended, rate, timeout, "
                "keep, tokens_off, note) VALUES (?,?,?,NULL,?,?,?,'',?)",
                (run_id, command, time.time(), rate, timeout, keep, note),
            )
        return int(cursor.lastrowid or 0)

    def load_tokens(self, session: int, tokens_off: str) -> None:
        """Why keystone got GETs instead of token requests ("": it got them)."""
        with self._tx() as db:
            db.execute("UPDATE load_sessions SET tokens_off=? WHERE id=?", (tokens_off, session))

    def load_ended(self, session: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE load_sessions SET ended=? WHERE id=?", (time.time(), session))

    def load_counted(
        self, session: int, counts: list[LoadCount], failures: list[LoadFailure]
    ) -> None:
        """The session's counts so far (each stream's replaces its last) and failed
        requests kept since the last call."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO load_counts VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (session, service, request) DO UPDATE SET rate=excluded.rate, "
                "started=excluded.started, ended=excluded.ended, requests=excluded.requests, "
                "failed=excluded.failed, kinds_json=excluded.kinds_json, late=excluded.late",
                [
                    (
                        session,
                        c.service,
                        c.endpoint,
                        c.request,
                        c.rate,
                        c.started,
                        c.ended,
                        c.requests,
                        c.failed,
                        json.dumps(dict(c.kinds), sort_keys=True),
                        c.late,
                    )
                    for c in counts
                ],
            )
            db.executemany(
                "INSERT INTO load_failures (session, service, request, at, kind, detail) "
                "VALUES (?,?,?,?,?,?)",
                [(session, f.service, f.request, f.at, f.kind, f.detail) for f in failures],
            )

    def last_load_rate(self, run_id: str) -> float | None:
        """The rate of the run's last load session (what ``resume`` sends again)."""
        row = self.db.execute(
            "SELECT rate FROM load_sessions WHERE run_id=? ORDER BY id DESC LIMIT 1", (run_id,)
        ).fetchone()
        return None if row is None else float(row[0])

    def load_sessions(self, run_id: str) -> list[LoadSession]:
        """Every load session of a run, in the order they started, with its counts and
        its kept failures (in time order)."""
        sessions = self.db.execute(
            "SELECT id, command, started, ended, rate, timeout, keep, tokens_off, note "
            "FROM load_sessions WHERE run_id=? ORDER BY id",
            (run_id,),
        ).fetchall()
        found = []
        for sid, command, started, ended, rate, timeout, keep, tokens_off, note in sessions:
            counts = tuple(
                LoadCount(
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"), r[9]
                )
                for r in self.db.execute(
                    "SELECT service, endpoint, request, rate, started, ended, requests, failed,"
                    " kinds_json, late FROM load_counts WHERE session=? ORDER BY rowid",
                    (sid,),
                )
            )
            failures = tuple(
                LoadFailure(*r)
                for r in self.db.execute(
                    "SELECT service, request, at, kind, detail FROM load_failures "
                    "WHERE session=? ORDER BY at, id",
                    (sid,),
                )
            )
            found.append(
                LoadSession(
                    command,
                    started,
                    ended,
                    rate,
                    timeout,
                    keep,
                    tokens_off or "",
                    note or "",
                    counts,
                    failures,
                )
            )
        return found

    def runs(self) -> list[RunRecord]:
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created DESC")
        return [_run_record(row) for row in rows]

    def run(self, run_id: str | None) -> RunRecord:
        """A run by id (a unique prefix is enough), or the latest one."""
        if run_id is None:
            row = self.db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise InputError(
                    f"no runs in {self.state_dir}",
                    hint="start one with `stackstep upgrade`, or pass --state-dir",
                )
            return _run_record(row)
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id LIKE ?", (run_id + "%",)
        ).fetchall()
        if len(rows) != 1:
            what = "no run" if not rows else f"{len(rows)} runs"
            raise InputError(
                f"{what} matching {run_id!r} in {self.state_dir}",
                hint="`stackstep runs` lists them",
            )
        return _run_record(rows[0])

    def steps(self, run_id: str) -> dict[str, StepRecord]:
        rows = self.db.execute(
            "SELECT step_id, state, host, kind, started, finished, exit_status, output_tail, "
            "message, attempts, data_json FROM steps WHERE run_id=?",
            (run_id,),
        )
        return {r[0]: _step_record(r) for r in rows}

    def step_spans(self, run_id: str) -> list[StepSpan]:
        """Every step of a run in plan order, timed (None: not yet), with its service
        and host; nothing else is read (a 90,000-step run reads in a fraction of a
        second). A step journalled before version 2 has its service from its id."""
        rows = self.db.execute(
            "SELECT step_id, kind, service, host, started, finished FROM steps "
            "WHERE run_id=? ORDER BY rowid",
            (run_id,),
        )
        return [
            StepSpan(r[0], r[1], r[2] if r[2] is not None else _service_of(r[0]), *r[3:])
            for r in rows
        ]

    def last_event_time(self, run_id: str) -> float | None:
        (found,) = self.db.execute(
            "SELECT MAX(time) FROM events WHERE run_id=?", (run_id,)
        ).fetchone()
        return float(found) if found is not None else None

    def events(self, run_id: str) -> list[Event]:
        rows = self.db.execute(
            "SELECT kind, run_id, step_id, host, message, data_json, time "
            "FROM events WHERE run_id=? ORDER BY id",
            (run_id,),
        )
        return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6]) for r in rows]


_RUN_COLUMNS = (
    "id, created, updated, status, who, cloud, inventory, plan_hash, plan_json, "
    "facts_json, request_json, message, tool_version, pid"
)


def _run_record(row: tuple[object, ...]) -> RunRecord:
    """A row of ``runs`` (``_RUN_COLUMNS``), its status as a :class:`RunStatus`."""
    fields = list(row)
    fields[3] = run_status(fields[3])
    return RunRecord(*fields)  # type: ignore[arg-type]


def _step_record(row: tuple[Json, ...]) -> StepRecord:
    sid, state, host, kind, started, finished, status, tail, message, attempts, data = row
    return StepRecord(
        str(sid),
        step_state(state),
        None if host is None else str(host),
        str(kind),
        started if isinstance(started, float) else None,
        finished if isinstance(finished, float) else None,
        status if isinstance(status, int) else None,
        str(tail or ""),
        str(message or ""),
        int(attempts or 0),  # type: ignore[arg-type]
        json.loads(str(data or "{}")),
    )


def left_down(steps: dict[str, StepRecord]) -> dict[str, list[str]]:
    """Services stopped on a host (stop step done) and not started there again: a
    service's own stop (``services/NAME/HOST/stop-units``) or a rolling upgrade's stop
    of every unit on a node (``roll/HOST/stop-units``)."""
    down: dict[str, list[str]] = {}
    for sid, rec in steps.items():
        parts = sid.split("/")
        if rec.kind != StepKind.STOP_UNITS or rec.state != StepState.DONE:
            continue
        if len(parts) == 4 and parts[0] == "services":
            service, host = parts[1], parts[2]
            starts = [
                r
                for s, r in steps.items()
                if r.kind == StepKind.START_UNITS and s.startswith(f"services/{service}/{host}/")
            ]
            if any(r.state != StepState.DONE for r in starts):
                down.setdefault(service, []).append(host)
        elif len(parts) == 3 and parts[0] == "roll":
            for service in _not_started(steps, parts[1]):
                if parts[1] not in down.get(service, []):
                    down.setdefault(service, []).append(parts[1])
    return down


def _not_started(steps: dict[str, StepRecord], host: str) -> list[str]:
    """Services with a start step on ``host`` that is not done."""
    out = []
    for sid, rec in steps.items():
        bits = sid.split("/")
        here = bits[0] == "services" and bits[2:3] == [host]
        pending = rec.kind == StepKind.START_UNITS and rec.state != StepState.DONE
        if here and pending and bits[1] not in out:
            out.append(bits[1])
    return out


def left_drained(steps: dict[str, StepRecord]) -> list[str]:
    """Nodes a rolling upgrade took out of rotation (a ``PHASE/NODE/drain/...`` step done
    or started) and has not put back yet (a ``PHASE/NODE/undrain/...`` step not done)."""
    out: list[str] = []
    for sid, rec in steps.items():
        parts = sid.split("/")
        if rec.kind != StepKind.DRAIN or parts[2:3] != ["drain"]:
            continue
        if rec.state == StepState.PENDING or parts[1] in out:
            continue
        back = [r for s, r in steps.items() if s.startswith(f"{parts[0]}/{parts[1]}/undrain/")]
        if any(r.state != StepState.DONE for r in back):
            out.append(parts[1])
    return out


# the package transactions that run with service starts held on apt hosts
_HELD_KINDS = frozenset({StepKind.UPGRADE_PACKAGES, StepKind.FULL_UPGRADE})


def left_held(steps: dict[str, StepRecord], apt_hosts: set[str]) -> list[str]:
    """apt hosts where a package transaction was interrupted (its step still RUNNING: the
    process that ran it is gone): the transaction's ``policy-rc.d`` (drivers/packages.py)
    may still hold every maintainer-script start there until the step runs again."""
    out: list[str] = []
    for rec in steps.values():
        held = rec.kind in _HELD_KINDS and rec.state == StepState.RUNNING
        if held and rec.host in apt_hosts and rec.host not in out:
            out.append(rec.host)
    return out


PENDING = StepState.PENDING


def _service_of(step_id: str) -> str | None:
    """The service of a step id the planner wrote (``services/NAME/HOST/...``)."""
    parts = step_id.split("/")
    return parts[1] if len(parts) > 3 and parts[0] == "services" else None


def _insert_pending(db: sqlite3.Connection, run_id: str, steps: list[Step]) -> None:
    db.executemany(
        "INSERT INTO steps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                run_id,
                s.id,
                PENDING,
                s.host,
                str(s.kind),
                None,
                None,
                None,
                "",
                "",
                0,
                "{}",
                s.service,
            )
            for s in steps
        ],
    )
