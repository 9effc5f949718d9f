"""Did a package transaction change a file's *content*, or only write the same bytes again?

A full upgrade reinstalls files whose content did not change (a package whose version
changed but whose Python script is the same): a new inode and a new change time, the
same code. So that the after phase does not restart a unit for that (drivers/loaded.py),
the final full upgrade first records, on the host, the package manager's own digest of
every installed file that can be loaded code, with the file's change time then:

- rpm: ``rpm -qa --qf '=%{FILEDIGESTALGO}\\n[%{FILEDIGESTS} %{FILENAMES}\\n]'`` (the
  algorithm per package: 8 sha256, on every RPM of the last decade; 1 or none md5);
- dpkg: ``/var/lib/dpkg/info/*.md5sums`` (md5).

Only loaded code is kept: shared objects (``*.so``, ``*.so.N``), Python files (``*.py``,
``*.pyc``, ``*.pyo``) and files in ``bin``, ``sbin`` and ``libexec`` directories. The
record stays on the host (it can be megabytes), in
``$STACKSTEP_RECORD_DIR/RUN/file-digests`` (default ``/var/lib/stackstep/records``; set
the variable in the host's ``env:`` to put it elsewhere), folder 0700, file 0600, one
line per file: ``ALGO|DIGEST|CHANGE TIME (UTC)|PATH``. It is written aside and renamed
into place, and an existing record of the run is never overwritten: a resumed or repeated
full upgrade keeps the record taken before the first transaction, which is what the
step is idempotent by.

At the restart, :func:`check_command` compares the candidates only (files changed after a
process started) with the record: their current digest with ``sha256sum``/``md5sum``,
and prints per file whether its content is the same as recorded. Same content vouches for
a process only when the file had not changed since before that process started
(its recorded change time), drivers/loaded.py decides that.

Commands are data; parsers read what they print (tests/data/outputs/digests/).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from stackstep.drivers.loaded import ModuleChange, SameContent, utc
from stackstep.model.command import Command, cmd

RECORD_ROOT = "/var/lib/stackstep/records"
RECORD_NAME = "file-digests"
# awk ERE: the files that can be loaded code
LOADED_CODE = r"\.so(\.[0-9]+)*$|\.py[co]?$|\/(s?bin|libexec)\/[^\/]*$"

# $1 run id. Sets $rec, the run's record on this host.
_RECORD_PATH = f'rec="${{STACKSTEP_RECORD_DIR:-{RECORD_ROOT}}}/$1/{RECORD_NAME}"; '

# $1 run id, $2 rpm|dpkg. Prints "kept PATH" (a record of the run is there already) or
# "recorded COUNT PATH".
_RECORD = _RECORD_PATH + (
    r"""
umask 077
if [ -s "$rec" ]; then echo "kept $rec"; exit 0; fi
mkdir -p "${rec%/*}" || exit
tmp="$rec.partial"
if [ "$2" = rpm ]; then
    rpm -qa --qf '=%{FILEDIGESTALGO}\n[%{FILEDIGESTS} %{FILENAMES}\n]' || exit
else
    echo =1; cat /var/lib/dpkg/info/*.md5sums 2>/dev/null | sed 's|^\([0-9a-f]*\)  |\1 /|'
fi | awk '
    /^=/ { a = substr($0, 2)
           algo = a == 8 ? "sha256" : a == 2 ? "sha1" : a == 9 ? "sha384" : \
                  a == 10 ? "sha512" : a == 11 ? "sha224" : "md5"; next }
    $1 ~ /^[0-9a-f]+$/ { p = substr($0, length($1) + 2); if (p ~ CODE) print algo "|" $1 "|" p }
' > "$tmp.sums" || exit
cut -d'|' -f3- "$tmp.sums" | tr '\n' '\0' | TZ=UTC0 xargs -0 -r stat -c '%z|%n' \
    > "$tmp.times" 2>/dev/null
awk -F'|' 'FNR == NR { t[substr($0, length($1) + 2)] = $1; next }
    { p = substr($0, length($1) + length($2) + 3)
      if (p in t) print $1 "|" $2 "|" t[p] "|" p }' "$tmp.times" "$tmp.sums" > "$tmp" || exit
rm -f "$tmp.sums" "$tmp.times"
mv "$tmp" "$rec" || exit
echo "recorded $(wc -l < "$rec") $rec"
"""
).replace("CODE", f"/{LOADED_CODE}/")

# $1 run id, $2 since (epoch seconds), $3 how many packages follow, then the packages,
# then the files. For the packages' Python files changed since $2, per package and
# pythonX[.Y] directory ("-": none): "module PKG|DIR|CTIME|PATH", the newest whose content
# changed (or is not in the record), and "same PKG|DIR|CTIME|RECORDED CTIME|PATH", the
# newest with the recorded content and the newest recorded change time among them. For
# each file: "file same|RECORDED CTIME|PATH", or "file changed|-|PATH" (not recorded,
# or another digest). Change times are stat's %z in UTC.
_CHECK = (
    _RECORD_PATH
    + r"""
since=$2; n=$3; shift 3
tmp=$(mktemp) || exit; trap 'rm -f "$tmp" "$tmp".*' EXIT
i=0
for a in "$@"; do
    i=$((i + 1))
    if [ "$i" -gt "$n" ]; then printf '/file|-|%s\n' "$a"; continue; fi
    { cat "/var/lib/dpkg/info/$a.list" "/var/lib/dpkg/info/$a":*.list 2>/dev/null ||
      rpm -ql -- "$a" 2>/dev/null; } | grep -E '\.py[co]?$' | tr '\n' '\0' |
        TZ=UTC0 xargs -0 -r stat -c '%Z|%z|%n' 2>/dev/null |
        awk -F'|' -v pkg="$a" -v since="$since" '$1 >= since {
            print pkg "|" $2 "|" substr($0, length($1) + length($2) + 3) }'
done > "$tmp.cand"
: > "$tmp.rec"
[ -s "$rec" ] && awk -F'|' 'FNR == NR { want[substr($0, length($1) + length($2) + 3)] = 1; next }
    { p = substr($0, length($1) + length($2) + length($3) + 4); if (p in want) print }' \
    "$tmp.cand" "$rec" > "$tmp.rec"
for algo in $(cut -d'|' -f1 "$tmp.rec" 2>/dev/null | sort -u); do
    case $algo in md5|sha1|sha224|sha256|sha384|sha512) ;; *) continue ;; esac
    awk -F'|' -v a="$algo" \
        '$1 == a { print substr($0, length($1) + length($2) + length($3) + 4) }' "$tmp.rec" |
        tr '\n' '\0' | xargs -0 -r "${algo}sum" -- 2>/dev/null | sed "s|^|$algo |"
done > "$tmp.sum"
awk -F'|' '
    FILENAME ~ /\.sum$/ { split($0, w, " ")
                          now[w[1] "|" w[2] "|" substr($0, length(w[1] w[2]) + 4)] = 1; next }
    FILENAME ~ /\.rec$/ { p = substr($0, length($1) + length($2) + length($3) + 4)
                          if (($1 "|" $2 "|" p) in now) same[p] = $3; next }
    { p = substr($0, length($1) + length($2) + 3)
      if ($1 == "/file") { print "file " (p in same ? "same|" same[p] : "changed|-") "|" p; next }
      key = "-"
      if (match(p, /\/python[0-9](\.[0-9]+)?\//)) key = substr(p, RSTART + 1, RLENGTH - 2)
      k = $1 "|" key
      if (p in same) {
          if (!(k in st) || $2 > st[k]) { st[k] = $2; sf[k] = p }
          if (!(k in sr) || same[p] > sr[k]) sr[k] = same[p]
      } else if (!(k in ct) || $2 > ct[k]) { ct[k] = $2; cf[k] = p }
    }
    END { for (k in ct) print "module " k "|" ct[k] "|" cf[k]
          for (k in st) print "same " k "|" st[k] "|" sr[k] "|" sf[k] }
' "$tmp.sum" "$tmp.rec" "$tmp.cand" 2>/dev/null
true
"""
)


def record_path(run_id: str, root: str = RECORD_ROOT) -> str:
    """Where the run's record is on a host that does not set ``STACKSTEP_RECORD_DIR``."""
    return f"{root}/{run_id}/{RECORD_NAME}"


def record_command(database: Literal["rpm", "dpkg"], run_id: str) -> Command:
    """Record the installed loaded-code files' digests from the package ``database``,
    unless the run has a record on the host already."""
    return cmd("sh", "-c", _RECORD, "sh", run_id, database)


def check_command(
    run_id: str, since: float, packages: Iterable[str], files: Iterable[str]
) -> Command:
    """Compare ``packages``' Python files changed since ``since`` and ``files`` with the
    run's record (see the module)."""
    names = list(packages)
    return cmd("sh", "-c", _CHECK, "sh", run_id, str(int(since)), str(len(names)), *names, *files)


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_command` printed: the record's path, whether it was there
    already (``kept``), and how many files it holds (0 when kept)."""

    path: str
    kept: bool
    files: int


def parse_record(text: str) -> Recorded | None:
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "kept" and rest.startswith("/"):
            return Recorded(rest, True, 0)
        count, _, path = rest.partition(" ")
        if word == "recorded" and count.isdigit() and path.startswith("/"):
            return Recorded(path, False, int(count))
    return None


@dataclass
class Checked:
    """What :func:`check_command` printed: ``modules`` whose content changed (or cannot
    be vouched for), ``same`` ones, and for each file asked about, its recorded change
    time when its content is what was recorded (absent: changed or not recorded)."""

    modules: list[ModuleChange]
    same: list[SameContent]
    files: dict[str, float]


def parse_check(text: str) -> Checked:
    out = Checked([], [], {})
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "module":
            parts = rest.split("|", 3)
            if len(parts) == 4 and (when := utc(parts[2])) is not None:
                out.modules.append(ModuleChange(parts[0], parts[1], when, parts[3]))
        elif word == "same":
            parts = rest.split("|", 4)
            if len(parts) == 5:
                now, then = utc(parts[2]), utc(parts[3])
                if now is not None and then is not None:
                    out.same.append(SameContent(parts[0], parts[1], now, then, parts[4]))
        elif word == "file":
            state, _, rest = rest.partition("|")
            stamp, _, path = rest.partition("|")
            if state == "same" and (recorded := utc(stamp)) is not None:
                out.files[path] = recorded
    return out
