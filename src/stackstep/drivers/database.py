"""Database backups and restores as commands: MySQL/MariaDB dumps, SQLite copies.

Each command is ``sh -c SCRIPT sh ARG...``: the script is a constant and paths and names
reach it as positional parameters, never pasted into its text. A password never goes
in argv: the MySQL client reads its credentials as an option file on standard input
(``--defaults-extra-file=/dev/stdin``; where stdin must carry the dump, the script
first moves it to fd 3 and names ``/dev/fd/3``).

SQLite files are copied with SQLite's online backup API (``sqlite3 SRC ".backup DEST"``,
else Python's ``sqlite3.Connection.backup``): a consistent copy even while something
writes, where ``cp`` may catch a half-written page or miss the ``-wal`` file. A restore
copies into the existing file, so that its owner and mode stay the service's.

Backups go to ``$STACKSTEP_BACKUP_DIR/RUN/`` on the host (default
``/var/lib/stackstep/backups``; set the variable in the host's ``env:`` in the
inventory to put them elsewhere), files 0600; the script prints the path it wrote.
A MySQL dump is restored only when it ends with mysqldump's ``-- Dump completed``
line, and into a database dropped first, so that tables a failed migration added go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from stackstep.model.command import Command, cmd

BACKUP_ROOT = "/var/lib/stackstep/backups"
DbKind = Literal["mysql", "sqlite"]

# copy SQLite database $1 into $2 through the backup API
_COPY = (
    'copy() { if command -v sqlite3 >/dev/null 2>&1; then sqlite3 "$1" ".backup \'$2\'"; '
    "elif command -v python3 >/dev/null 2>&1; then python3 -c 'import sqlite3, sys; "
    "s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d); "
    'd.close(); s.close()\' "$1" "$2"; '
    'else echo "neither sqlite3 nor python3 here: cannot copy $1 consistently" >&2; '
    "return 127; fi; }; "
)
# $1 run id, $2 file name: makes the folder, sets $dest
_FOLDER = (
    "umask 077; "
    f'dir="${{STACKSTEP_BACKUP_DIR:-{BACKUP_ROOT}}}/$1"; dest="$dir/$2"; '
    'mkdir -p "$dir" || exit; '
)
SQLITE_BACKUP = (
    _COPY
    + _FOLDER
    + '[ -f "$3" ] || { echo "no SQLite database at $3" >&2; exit 1; }; '
    + 'rm -f -- "$dest" && copy "$3" "$dest" || exit; echo "$dest"'
)
MYSQL_BACKUP = (
    _FOLDER
    + "dump=$(command -v mariadb-dump || command -v mysqldump) || "
    + '{ echo "neither mariadb-dump nor mysqldump here" >&2; exit 127; }; '
    + '"$dump" --defaults-extra-file=/dev/stdin --single-transaction --routines '
    + '--databases -- "$3" > "$dest" || exit; echo "$dest"'
)
_HAVE_BACKUP = '[ -s "$1" ] || { echo "no backup at $1" >&2; exit 1; }; '
SQLITE_RESTORE = _COPY + _HAVE_BACKUP + 'copy "$1" "$2"'
MYSQL_RESTORE = (
    _HAVE_BACKUP
    + 'tail -n 1 -- "$1" | grep -q "^-- Dump completed" || { echo "$1 is incomplete (it does '
    + 'not end with -- Dump completed): not restoring it" >&2; exit 1; }; '
    + "client=$(command -v mariadb || command -v mysql) || "
    + '{ echo "neither mariadb nor mysql here" >&2; exit 127; }; '
    + "exec 3<&0; "
    + '{ printf \'DROP DATABASE IF EXISTS `%s`;\\n\' "$2"; cat -- "$1"; } | '
    + '"$client" --defaults-extra-file=/dev/fd/3'
)


@dataclass(frozen=True)
class DbTarget:
    """A service's database, from its connection URL."""

    kind: DbKind
    name: str  # the MySQL database, or the SQLite file's path
    user: str = ""
    password: str = ""
    host: str = "localhost"
    port: int = 3306

    def client_options(self) -> str:
        """The ``[client]`` option file the MySQL tools read on stdin; a value with ``#``,
        ``;``, quotes or backslashes is quoted, lest it be cut as a comment."""
        values = {"user": self.user, "password": self.password, "host": self.host}
        lines = [f"{key}={_quoted(value)}" for key, value in values.items()]
        return "\n".join(["[client]", *lines, f"port={self.port}", ""])

    def backup_file(self, stem: str) -> str:
        return f"{stem}.sqlite" if self.kind == "sqlite" else f"{stem}.sql"


def _quoted(value: str) -> str:
    """An option file value: as it is when plain, else in double quotes, escaped."""
    if value == value.strip() and not any(c in value for c in "#;\"'\\\n"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def parse_url(url: str) -> DbTarget | None:
    """``mysql+pymysql://u:p@host/db`` or ``sqlite:////var/lib/x.sqlite``; None for
    other schemes (PostgreSQL, ...)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = parts.path[1:] if parts.path.startswith("//") else parts.path
        return DbTarget("sqlite", path)
    if parts.scheme.startswith(("mysql", "mariadb")):
        return DbTarget(
            "mysql",
            parts.path.lstrip("/"),
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            parts.hostname or "localhost",
            parts.port or 3306,
        )
    return None


def kind_of_backup(path: str) -> DbKind:
    return "sqlite" if path.endswith(".sqlite") else "mysql"


def backup_command(db: DbTarget, run_id: str, stem: str) -> tuple[Command, str | None]:
    """The command that backs ``db`` up into the run's folder, and its stdin."""
    if db.kind == "sqlite":
        return cmd("sh", "-c", SQLITE_BACKUP, "sh", run_id, db.backup_file(stem), db.name), None
    command = cmd("sh", "-c", MYSQL_BACKUP, "sh", run_id, db.backup_file(stem), db.name)
    return command, db.client_options()


def restore_command(db: DbTarget, backup: str) -> tuple[Command, str | None]:
    """The command that puts ``backup`` back into ``db`` (its service stopped), and its stdin."""
    if db.kind == "sqlite":
        return cmd("sh", "-c", SQLITE_RESTORE, "sh", backup, db.name), None
    return cmd("sh", "-c", MYSQL_RESTORE, "sh", backup, db.name), db.client_options()


def written_path(stdout: str, run_id: str, file_name: str) -> str:
    """The path the backup script printed; the default folder's when it printed none."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip().startswith("/")]
    return lines[-1] if lines else f"{BACKUP_ROOT}/{run_id}/{file_name}"
