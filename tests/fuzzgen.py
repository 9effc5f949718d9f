"""Structure-aware fuzz cases for the inputs of ``stackstep plan`` and ``stackstep catalog``.

Shared by the hypothesis tests (tests/unit/fuzz) and the long run (bench/fuzz.py). A case
starts from a valid document shipped with the project (examples/, tests/data/ansible/,
the catalog in src/stackstep/catalog/data/), mutates its structure (types swapped, keys
dropped, duplicated or renamed, hostile values, deep nesting, YAML aliases and bombs,
huge host ranges) and then its text (lines duplicated or dropped, bad UTF-8, lone
surrogates, NUL bytes, truncation). The CLI arguments are mutated too.

Every choice goes through a :class:`Source`: :class:`RandomSource` (a seeded
``random.Random``, for the bench) or the hypothesis adapter in tests/unit/fuzz, so the
same generators shrink under hypothesis and run fast and reproducibly in the bench.
Nothing here contacts a host: only ``plan`` without ``--discover`` and ``catalog``.
"""

from __future__ import annotations

import json
import random
import re
import resource
import shlex
import signal
import tomllib
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
DIR = "{dir}"  # stands for the case's directory in argv


class Source(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...


class RandomSource:
    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(str(seed))

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


@dataclass
class Case:
    """Files to write in a fresh directory, and the stackstep arguments to run there."""

    kind: str
    files: dict[str, bytes]
    argv: list[str]
    notes: list[str] = field(default_factory=list)

    def args(self, directory: Path | str) -> list[str]:
        return [a.replace(DIR, str(directory)) for a in self.argv]

    def write(self, directory: Path) -> None:
        for name, data in self.files.items():
            (directory / name).write_bytes(data)

    def command(self) -> str:
        """The shell command that reruns the case from the directory holding its files."""
        return "stackstep " + " ".join(shlex.quote(a) for a in self.args("."))


# ---------------------------------------------------------------- seeds (valid documents)


def _read(*parts: str) -> str:
    return ROOT.joinpath(*parts).read_text(encoding="utf-8")


STACKSTEP_YAML = {
    p.name: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("examples/*.y*ml"))
}
ANSIBLE_INI = {
    "hosts.ini": _read("examples", "ansible", "hosts.ini"),
    "multinode": _read("tests", "data", "ansible", "multinode"),
}
ANSIBLE_YAML = {"multinode.yml": _read("tests", "data", "ansible", "multinode.yml")}
_CATALOG_DIR = ROOT / "src" / "stackstep" / "catalog" / "data"
CATALOG_TOML = {
    p.name: p.read_text(encoding="utf-8")
    for p in [*sorted(_CATALOG_DIR.glob("*.toml")), *sorted(_CATALOG_DIR.glob("series/*.toml"))]
}
CATALOG_TOML["patch.toml"] = (
    'series = "rdo-2013"\n\n[[service]]\nname = "glance"\nafter = ["keystone"]\n'
    'packages = { rpm = ["openstack-glance*"], deb = ["glance"] }\n'
    'config_dirs = ["/etc/glance"]\nmigrate_on = "api"\n'
    '[[service.component]]\nname = "api"\n'
    'units = { rpm = ["openstack-glance-api"], deb = ["glance-api"] }\n'
    '[[service.migrate]]\nname = "db-sync"\nargv = ["glance-manage", "db", "sync"]\n'
    'user = "glance"\n'
)
CATALOG_TOML["more.toml"] = (
    'release = [ { name = "hibiscus", version = "2026.2" } ]\n'
    '[roles]\nweb = ["horizon"]\n[ansible_groups]\nweb_hosts = ["web"]\n'
)

RELEASES = ("grizzly", "havana", "icehouse", "2023.1", "caracal", "2024.1", "2025.1", "gazpacho")
SERVICES = ("keystone", "glance", "nova", "neutron", "cinder", "swift", "horizon", "placement")

# ---------------------------------------------------------------- hostile values

HOSTILE = (
    "-x",
    "--foo",
    "-xfuzz",
    "--fuzz-option",
    "-Hroot@evil.example",
    "-S sh -c 'touch /tmp/stackstep-fuzz-pwned' #",
    "-oProxyCommand=touch /tmp/stackstep-fuzz-pwned",
    "--",
    "-",
    "$(touch /tmp/stackstep-fuzz-pwned)",
    "`touch /tmp/stackstep-fuzz-pwned`",
    "a; touch /tmp/stackstep-fuzz-pwned",
    "a && b || c | d > e < f",
    "x\ny: injected",
    "ctl1\n  step 99: reboot every host",
    "a\rb",
    "tab\there",
    "nul\x00byte",
    "\x1b[31mred\x1b[0m",
    "line\u2028sep",
    "\u202eevil",
    "lone \ud800 surrogate",
    "\udcff",
    "c[1:100000000]",
    "10.0.0.[1:100000000]",
    "n[1:100][1:100][1:100]",
    "x[01-20]",
    "x[",
    "[a:z][a:z][a:z][a:z]",
    "c[100000000:1]",
    "",
    " ",
    "*",
    "..",
    "../../../../etc/passwd",
    "/dev/zero",
    "~root/.ssh/id_rsa",
    "A=B",
    "name with spaces",
    "é",
    "x" * 10_000,
    "0" * 400,
    "1e999",
    "-1",
    "99999999999999999999999999",
)
OPTION_LIKE = HOSTILE[:9]
NUMBERS = (0, -1, 1, 22, 65535, 65536, 2**31, 2**63, -(2**63), 10**30)
OTHERS: tuple[Any, ...] = (None, True, False, 1.5, float("inf"), [], {}, ["a", 1], {"k": "v"})
KEYS = ("hosts", "address", "roles", "env", "port", "user", "migrate", "ansible", "series")
KEYS_HOSTILE = ("-S sh -c 'id' #", "A=B", "PATH", "1X", "", "x y", "$(id)", "LD_PRELOAD", "é")
RANGES = (
    "c[1:100000000]",
    "n[1:100][1:100][1:100]",
    "c[0:99999]",
    "10.0.0.[1:100000000]",
    "x[01-20]",
    "c[1:3]",
    "c[9:1]",
    "-x",
    "a\nb",
    "ctl1\n  fake: line",
    "$(id)",
)

# Text that replaces a marker after the tree is written out (YAML or TOML).
MARK = re.compile(r"""(['"]?)@@(DEEP|BOMB|LOOP|ALIAS)(\d+)@@\1""")


def _deep_flow(depth: int) -> str:
    return "[" * depth + "]" * depth


def _yaml_bomb(levels: int) -> str:
    """The billion laughs: ``levels`` anchors, each nine aliases of the one before."""
    parts = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    parts += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def _expand_yaml_marks(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        what, n = m.group(2), int(m.group(3))
        if what == "DEEP":
            return _deep_flow(n)
        if what == "BOMB":
            return _yaml_bomb(n)
        if what == "LOOP":
            return f"&r{n} [*r{n}]"
        return f"&s{n} [x]"  # ALIAS: an anchor alone (a later alias may point at it)

    return MARK.sub(repl, text)


def _expand_toml_marks(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        what, n = m.group(2), int(m.group(3))
        if what == "DEEP":
            return _deep_flow(n)
        return '"' + "{x}" * n + '"'

    return MARK.sub(repl, text)


# ---------------------------------------------------------------- tree mutations


def _paths(tree: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*path, i))
    return out


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _value(src: Source, *, yaml_only: bool) -> Any:
    kind = src.choice(("hostile", "number", "other", "deep", "special"))
    if kind == "hostile":
        return src.choice(HOSTILE)
    if kind == "number":
        return src.choice(NUMBERS)
    if kind == "other":
        value = src.choice(OTHERS)
        if value is None and not yaml_only:
            return "null"
        return value.copy() if isinstance(value, (list, dict)) else value
    if kind == "deep":
        return f"@@DEEP{src.choice((10, 60, 200, 1000, 3000, 20000))}@@"
    if yaml_only:
        return f"@@{src.choice(('BOMB', 'LOOP', 'ALIAS'))}{src.choice((3, 6, 9, 12))}@@"
    return src.choice(HOSTILE)


def mutate_tree(src: Source, tree: Any, notes: list[str], *, yaml_only: bool) -> Any:
    """One structural change at a random place in ``tree`` (changed in place, returned)."""
    paths = _paths(tree)
    op = src.choice(("hostile", "hostile", "replace", "drop", "add", "rename", "wrap", "repeat"))
    if op == "hostile":  # a text where a text belongs: gets past the type checks
        paths = [p for p in paths if p and isinstance(_get(tree, p), str)] or paths
    path = src.choice(paths)
    notes.append(f"{op} at {'.'.join(map(str, path)) or '<root>'}")
    if not path:
        if op in ("replace", "wrap"):
            return _value(src, yaml_only=yaml_only) if op == "replace" else [tree]
        path = src.choice(paths)
        if not path:
            return tree
    parent, last = _get(tree, path[:-1]), path[-1]
    if op == "hostile":
        parent[last] = _hostile_like(src, parent[last])
    elif op == "replace":
        parent[last] = _value(src, yaml_only=yaml_only)
    elif op == "drop":
        del parent[last]
    elif op == "wrap":
        parent[last] = {src.choice(KEYS): parent[last]} if src.integer(0, 1) else [parent[last]]
    elif op == "repeat" and isinstance(parent, list):
        parent.extend([parent[last]] * src.choice((1, 2, 50)))
    elif isinstance(parent, dict):
        key = src.choice((*KEYS, *KEYS_HOSTILE, *RANGES))
        if op == "rename":
            parent[key] = parent.pop(last)
        else:
            parent[key] = _value(src, yaml_only=yaml_only)
    else:
        parent.insert(last, _value(src, yaml_only=yaml_only))
    return tree


def _hostile_like(src: Source, value: Any) -> Any:
    """A hostile value of the same shape: a string for a string, a list of them for a list."""
    item = src.choice(src.choice((OPTION_LIKE, HOSTILE, RANGES)))
    if isinstance(value, list):
        return [*value, item] if src.integer(0, 1) else [item]
    if isinstance(value, dict):
        return {**value, src.choice((*KEYS_HOSTILE, *RANGES)): item}
    return item


# ---------------------------------------------------------------- text mutations

# How many changes a document gets: mostly one, so that many cases stay valid enough to
# reach the planner and the reports, sometimes none (the CLI arguments vary alone) or many.
TREE_MUTATIONS = (0, 1, 1, 1, 1, 2, 2, 3, 5)
TEXT_MUTATIONS = (0, 0, 0, 0, 1, 2)
BAD_BYTES = (b"\xff", b"\xfe\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80", b"\x00", b"\xef\xbb\xbf")


def mutate_bytes(src: Source, data: bytes, notes: list[str]) -> bytes:
    lines = data.split(b"\n")
    op = src.choice(
        ("dup-line", "drop-line", "swap-lines", "truncate", "bad-bytes", "crlf", "tabs")
    )
    at = src.integer(0, max(len(lines) - 1, 0))
    notes.append(f"text {op} at line {at + 1}")
    if op == "dup-line":
        lines.insert(at, lines[at])
    elif op == "drop-line":
        del lines[at]
    elif op == "swap-lines":
        other = src.integer(0, len(lines) - 1)
        lines[at], lines[other] = lines[other], lines[at]
    elif op == "truncate":
        return data[: src.integer(0, len(data))]
    elif op == "bad-bytes":
        cut = src.integer(0, len(data))
        return data[:cut] + src.choice(BAD_BYTES) + data[cut:]
    elif op == "crlf":
        return data.replace(b"\n", b"\r\n")
    else:
        lines = [ln.replace(b"  ", b"\t") for ln in lines]
    return b"\n".join(lines)


def _encode(text: str) -> bytes:
    """UTF-8, keeping lone surrogates as the (invalid) bytes a broken encoder writes."""
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------- writers

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: Any) -> str:
    key = str(key)
    return key if _BARE.match(key) else _toml_str(key)


def _toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if value is None:
        return '"null"'
    if isinstance(value, str):
        return _toml_str(value)
    return str(value)  # dates and times as TOML writes them


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_dumps(data: Any) -> str:
    """Tables as ``[table]`` and ``[[array]]`` where TOML allows, inline elsewhere."""
    if not isinstance(data, dict):
        return f"value = {_toml_value(data)}\n"
    lines: list[str] = []
    _toml_table(lines, (), data, array=False)
    return "\n".join(lines) + "\n"


def _toml_table(
    lines: list[str], path: tuple[str, ...], table: dict[Any, Any], array: bool
) -> None:
    if path:
        name = ".".join(_toml_key(p) for p in path)
        lines.append(f"[[{name}]]" if array else f"[{name}]")
    nested = {k: v for k, v in table.items() if isinstance(v, dict) or _is_table_array(v)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested.items():
        if isinstance(value, dict):
            _toml_table(lines, (*path, str(key)), value, array=False)
        else:
            for item in value:
                _toml_table(lines, (*path, str(key)), item, array=True)


def yaml_dumps(src: Source, data: Any) -> str:
    flow = src.choice((False, False, None))
    return yaml.safe_dump(
        data,
        sort_keys=False,
        allow_unicode=src.choice((True, False)),
        default_flow_style=flow,
        width=src.choice((80, 10_000)),
    )


# ---------------------------------------------------------------- whole documents


def yaml_doc(src: Source, seeds: dict[str, str], notes: list[str]) -> bytes:
    name = src.choice(sorted(seeds))
    notes.append(f"from {name}")
    tree = yaml.safe_load(seeds[name])
    for _ in range(src.choice(TREE_MUTATIONS)):
        tree = mutate_tree(src, tree, notes, yaml_only=True)
    text = _expand_yaml_marks(yaml_dumps(src, tree))
    if src.integer(0, 5) == 0:
        text += _yaml_extra(src, notes)
    data = _encode(text)
    for _ in range(src.choice(TEXT_MUTATIONS)):
        data = mutate_bytes(src, data, notes)
    return data


def _yaml_extra(src: Source, notes: list[str]) -> str:
    """Appended top-level keys: aliases of the document's anchors, merge keys, escapes."""
    extra = src.choice(
        (
            "zz: *s3\n",
            "zz: *a0\n",
            "<<: {hosts: {x: {roles: [compute]}}}\n",
            'zz: "\\ud800"\n',
            'cloud: "\\udcff\\U0010ffff\\x00"\n',
            "zz: !!python/object/apply:os.system ['touch /tmp/stackstep-fuzz-pwned']\n",
            "zz: !!binary AAAA\n",
            "zz: 2013-01-01\n",
            "? [a, b]\n: c\n",
            "---\nsecond: document\n",
            "zz: " + _yaml_bomb(src.choice((5, 8, 10))) + "\n",
            "zz: &r [*r]\n",
            "zz: &m {a: *m}\n",
        )
    )
    notes.append(f"append {extra[:40]!r}")
    return "\n" + extra


def ini_doc(src: Source, notes: list[str]) -> bytes:
    name = src.choice(sorted(ANSIBLE_INI))
    notes.append(f"from {name}")
    lines = ANSIBLE_INI[name].splitlines()
    for _ in range(src.choice(TREE_MUTATIONS)):
        lines = _mutate_ini(src, lines, notes)
    data = _encode("\n".join(lines) + "\n")
    for _ in range(src.choice(TEXT_MUTATIONS)):
        data = mutate_bytes(src, data, notes)
    return data


def _ini_value(src: Source) -> str:
    value = src.choice(HOSTILE)
    return shlex.quote(value) if src.integer(0, 1) else value


def _mutate_ini(src: Source, lines: list[str], notes: list[str]) -> list[str]:
    op = src.choice(("host-var", "host-name", "section", "chain", "vars", "children-loop"))
    at = src.integer(0, len(lines))
    notes.append(f"ini {op} at line {at + 1}")
    var = src.choice(
        (
            "ansible_host",
            "ansible_port",
            "ansible_user",
            "ansible_become",
            "stackstep_roles",
            "ansible_ssh_private_key_file",
            "stackstep_package_manager",
            "-x",
            "a b",
            "",
        )
    )
    new: list[str]
    if op == "host-var":
        new = [f"h1 {var}={_ini_value(src)}"]
    elif op == "host-name":
        new = [_ini_value(src) + src.choice(("", " ansible_host=127.0.0.1", ":2222", ":99999"))]
    elif op == "section":
        new = [f"[{src.choice(('control', 'compute', 'x y', '', 'a:b:c', *HOSTILE[:8]))}]"]
    elif op == "chain":
        depth = src.choice((10, 200, 500, 2000))
        new = [f"[g{i}:children]\ng{i + 1}" for i in range(depth)] + [f"[g{depth}]", "deep1"]
    elif op == "vars":
        new = [f"[{src.choice(('all', 'control', 'nosuch'))}:vars]", f"{var}={_ini_value(src)}"]
    else:
        new = ["[a:children]", "b", "[b:children]", "a"]
    return lines[:at] + new + lines[at:]


def toml_doc(src: Source, notes: list[str]) -> bytes:
    name = src.choice(sorted(CATALOG_TOML))
    notes.append(f"from {name}")
    if src.integer(0, 4) == 0:
        data = _encode(CATALOG_TOML[name])  # the text itself, comments and layout kept
    else:
        tree: Any = tomllib.loads(CATALOG_TOML[name])
        for _ in range(src.choice(TREE_MUTATIONS)):
            tree = mutate_tree(src, tree, notes, yaml_only=False)
        data = _encode(_expand_toml_marks(toml_dumps(tree)))
    if src.integer(0, 5) == 0:
        data += _encode(
            src.choice(
                (
                    "\nzz = " + _deep_flow(src.choice((200, 1000, 5000))) + "\n",
                    '\nzz = "\\ud800"\n',
                    "\n[[service]]\n[[service]]\n",
                )
            )
        )
    for _ in range(src.choice(TEXT_MUTATIONS)):
        data = mutate_bytes(src, data, notes)
    return data


# ---------------------------------------------------------------- command lines

INVENTORY_NAMES = ("cloud.yaml", "cloud.yml", "cloud", "hosts.ini", "inventory.cfg", "cloud.json")


def _plan_options(src: Source) -> list[str]:
    out: list[str] = []
    for _ in range(src.choice((0, 0, 1, 1, 2, 3))):
        opt = src.choice(
            (
                "--from",
                "--to",
                "--only",
                "--skip",
                "--strategy",
                "--parallel",
                "--json",
                "--expand",
                "--no-prefetch",
                "--no-backup",
                "--force",
            )
        )
        if opt in ("--from", "--to"):
            out += [opt, src.choice((*RELEASES, *HOSTILE[:10]))]
        elif opt in ("--only", "--skip"):
            out += [opt, src.choice((*SERVICES, "nova,glance", "nvoa", *HOSTILE[:10]))]
        elif opt == "--strategy":
            out += [opt, src.choice(("rolling", "all-at-once", "-x", ""))]
        elif opt == "--parallel":
            out += [opt, src.choice(("1", "0", "-1", "5", "99999999999999999999", "x"))]
        else:
            out.append(opt)
    return out


def inventory_case(src: Source) -> Case:
    notes: list[str] = []
    fmt = src.choice(("stackstep", "stackstep", "ini", "ansible-yaml"))
    if fmt == "ini":
        data = ini_doc(src, notes)
        name = src.choice(("hosts.ini", "hosts", "inventory.cfg"))
    else:
        data = yaml_doc(src, STACKSTEP_YAML if fmt == "stackstep" else ANSIBLE_YAML, notes)
        name = src.choice(("cloud.yaml", "cloud.yml", "cloud"))
    files = {name: data}
    if fmt == "stackstep" and src.integer(0, 3) == 0:
        target = src.choice(
            (
                "hosts.ini",
                name,
                "/dev/zero",
                "/dev/urandom",
                ".",
                "nope.ini",
                "/proc/self/mem",
                "-x",
            )
        )
        notes.append(f"ansible: {target}")
        files[name] = data + _encode(f"\nansible: {target}\n")
        if target == "hosts.ini":
            files["hosts.ini"] = ini_doc(src, notes)
    argv = ["plan", "-i", f"{DIR}/{name}", *_plan_options(src)]
    if src.integer(0, 4) > (3 if fmt == "stackstep" else 0):  # an Ansible file has no release
        argv += ["--from", src.choice(("grizzly", "2023.1"))]
    if src.integer(0, 1) and "--json" not in argv:
        argv.append("--json")
    if src.integer(0, 5) == 0:
        files["site.toml"] = toml_doc(src, notes)
        argv += ["--catalog", f"{DIR}/site.toml"]
    return Case(f"inventory-{fmt}", files, argv, notes)


def catalog_case(src: Source) -> Case:
    notes: list[str] = []
    files = {"site.toml": toml_doc(src, notes)}
    if src.integer(0, 1):
        argv = ["catalog", "--catalog", f"{DIR}/site.toml"]
        argv += src.choice(([], ["--json"], ["--series", "rdo-2013"], ["--series", "-x"]))
    else:
        name = src.choice(sorted(STACKSTEP_YAML))
        files["cloud.yaml"] = _encode(STACKSTEP_YAML[name])
        argv = ["plan", "-i", f"{DIR}/cloud.yaml", "--catalog", f"{DIR}/site.toml"]
        argv += _plan_options(src)
        if src.integer(0, 1) and "--json" not in argv:
            argv.append("--json")
    return Case("catalog", files, argv, notes)


def args_case(src: Source) -> Case:
    """Valid files, mutated command lines (never --discover: it would contact hosts)."""
    name = src.choice(sorted(STACKSTEP_YAML))
    files = {
        "cloud.yaml": _encode(STACKSTEP_YAML[name]),
        "hosts.ini": _encode(ANSIBLE_INI["hosts.ini"]),
    }
    command = src.choice(("plan", "plan", "catalog"))
    argv = [command]
    pool = (
        f"{DIR}/cloud.yaml",
        f"{DIR}/hosts.ini",
        f"{DIR}/nope.yaml",
        f"{DIR}",
        "/dev/zero",
        "/dev/null",
        "-",
        "",
        *HOSTILE[:14],
        "--help",
        "-h",
        "--json",
        "--version",
    )
    if command == "plan" and src.integer(0, 4):
        argv += [
            src.choice(("-i", "--inventory", "-i=x", "--inventory=")),
            src.choice((f"{DIR}/cloud.yaml", f"{DIR}/hosts.ini", *pool)),
        ]
    argv += _plan_options(src) if command == "plan" else []
    for _ in range(src.integer(0, 3)):
        argv.append(src.choice(pool))
    if command == "catalog":
        argv += src.choice(([], ["--catalog", src.choice(pool)], ["--series", src.choice(pool)]))
    return Case("args", files, argv, [f"argv from {name}"])


HOST_FIELDS = (
    "<range>",
    "address",
    "user",
    "identity_file",
    "jump",
    "known_hosts",
    "netns",
    "<name>",
    "<env-key>",
    "<env-value>",
    "migrate",
    "services",
    "roles",
)
CATALOG_FIELDS = (
    "packages.rpm",
    "units.rpm",
    "config_dirs",
    "migrate.user",
    "component.name",
    "service.name",
    "migrate.name",
    "probe_on",
    "migrate_on",
    "after",
)


def values_case(src: Source, *, big: bool = True) -> Case:
    """Valid files but for one hostile text in one field that may reach a command or the
    report: a host's field in the inventory, or a field of a catalog service. With ``big``,
    the field may also be a range of computes: a valid big cloud that plans within the
    per-case budget (up to 3,000 hosts: bigger valid clouds are bench/plan_scale.py's
    job, at ~0.4 ms and ~35 kB per host), or one just over the 100,000-host cap, which
    must be refused before any name is built."""
    tree: Any = yaml.safe_load(STACKSTEP_YAML["all-in-one.yaml"])
    value = src.choice(src.choice((OPTION_LIKE, HOSTILE, RANGES)))
    files: dict[str, bytes] = {}
    argv = ["plan", "-i", f"{DIR}/cloud.yaml"]
    host = tree["hosts"]["aio"]
    if src.integer(0, 1):
        where = src.choice(HOST_FIELDS if big else HOST_FIELDS[1:])
        if where == "<name>":
            tree["hosts"] = {value: host}
        elif where == "<range>":  # a big valid cloud, or one just over the cap
            size = src.choice((1_000, 2_000, 3_000, 100_000, 100_001))
            tree["hosts"][f"c[1:{size}]"] = {"roles": ["compute"]}
            value = f"c[1:{size}]"
        elif where.startswith("<env"):
            host["env"] = {value: "1"} if where == "<env-key>" else {"LANG": value}
        elif where in ("migrate", "services", "roles"):
            host[where] = [*host.get(where, []), value] if where == "roles" else [value]
        else:
            host[where] = value
    else:
        where = src.choice(CATALOG_FIELDS)
        site = tomllib.loads(CATALOG_TOML["patch.toml"])
        service = site["service"][0]
        part, _, key = where.partition(".")
        if part == "packages":
            service["packages"]["rpm"] = [value]
        elif part == "units":
            service["component"][0]["units"]["rpm"] = [value]
        elif part in ("component", "migrate"):
            service[part][0][key] = value
        elif part == "service":
            service["name"] = value
        else:
            service[part] = [value] if part in ("config_dirs", "after") else value
        files["site.toml"] = _encode(toml_dumps(site))
        argv += ["--catalog", f"{DIR}/site.toml"]
    files["cloud.yaml"] = _encode(yaml_dumps(src, tree))
    argv += src.choice(([], ["--json"], ["--expand"], ["--strategy", "all-at-once", "--json"]))
    return Case("values", files, argv, [f"{where} = {value[:60]!r}"])


GENERATORS: dict[str, Callable[[Source], Case]] = {
    "inventory": inventory_case,
    "catalog": catalog_case,
    "args": args_case,
    "values": values_case,
}


def any_case(src: Source) -> Case:
    kind = src.choice(("inventory", "inventory", "inventory", "catalog", "args", "values"))
    return GENERATORS[kind](src)


# ---------------------------------------------------------------- running a case in-process

NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto")
PWNED = Path("/tmp/stackstep-fuzz-pwned")
_network: list[str] = []
_guarding = [False]


class NetworkAttempt(BaseException):
    """Raised by the audit hook when a fuzz case tries to reach the network."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _guarding[0] and event in NETWORK_EVENTS:
        _network.append(f"{event}{args!r}"[:200])
        raise NetworkAttempt(event)


_hooked: list[bool] = []


@dataclass
class Outcome:
    code: int | None
    output: str
    error: str | None  # exception that escaped the CLI (or the internal error it printed)
    seconds: float
    network: list[str]


class OverTime(BaseException):
    """Raised by the timer: not an Exception, so stackstep's error handler lets it through."""


def where(frames: list[traceback.FrameSummary]) -> str:
    """The innermost frame in stackstep's code: the place of a failure, for grouping."""
    ours = [f for f in frames if "/src/stackstep/" in f.filename]
    if not ours:
        return "outside stackstep"
    f = ours[-1]
    return f"{f.filename.rsplit('/src/', 1)[-1]}:{f.lineno} {f.name}"


def _on_alarm(_sig: int, frame: Any) -> None:
    raise OverTime(where(traceback.extract_stack(frame)))


def vm(key: str) -> int:
    """A ``Vm...`` figure of this process (VmSize, VmHWM = peak RSS), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def limits(seconds: float, memory: int, *, cpu: bool = False) -> Iterator[None]:
    """At most ``seconds`` (wall clock, or CPU time with ``cpu``: OverTime) and ``memory``
    bytes more address space (MemoryError) for the body; resets the peak RSS (VmHWM)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm("VmSize") + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with suppress(OSError):  # Linux: "5" resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    timer, sig = (
        (signal.ITIMER_PROF, signal.SIGPROF) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)
    )
    previous = signal.signal(sig, _on_alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(sig, previous)


def run_case(case: Case, directory: Path) -> Outcome:
    """Write the case's files into ``directory`` and run the CLI in-process (click's runner)."""
    import sys
    import time

    from click.testing import CliRunner

    from stackstep.cli.commands import register
    from stackstep.cli.main import cli

    if not _hooked:
        sys.addaudithook(_audit)
        _hooked.append(True)
    if not cli.commands:
        register(cli)
    case.write(directory)
    del _network[:]
    _guarding[0] = True
    start = time.perf_counter()
    try:
        result = CliRunner().invoke(cli, case.args(directory), catch_exceptions=True)
    except NetworkAttempt:
        return Outcome(None, "", "NetworkAttempt", time.perf_counter() - start, list(_network))
    finally:
        _guarding[0] = False
    seconds = time.perf_counter() - start
    error = None
    if result.exc_info is not None and not issubclass(result.exc_info[0], SystemExit):
        error = "".join(traceback.format_exception(*result.exc_info))
    elif result.exit_code == 70:
        error = result.output
    return Outcome(result.exit_code, result.output, error, seconds, list(_network))


# Markers of the hostile values above: an argv element starting with one of them (before
# any "--") is a value from an input file taken as an option by the command.
OPTION_MARKERS = ("-xfuzz", "--fuzz-option", "-Hroot@evil", "-S sh -c", "-oProxyCommand")
# Second lines of the hostile values with a newline: a line of output starting with one
# of them is a line faked by an input value.
FAKED_LINES = ("y: injected", "step 99: reboot every host", "fake: line")
# Keys whose values are commands written by the user on purpose (hooks, smoke checks,
# repository commands): options there are the user's own.
COMMAND_KEYS = re.compile(r"\b(argv|smoke|repo_command|upgrade_check)\b| at repo\b|<root>")


def _argvs(data: Any) -> Iterator[list[str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("commands", "argv") and isinstance(value, list):
                if value and all(isinstance(v, str) for v in value):
                    yield value
                else:
                    yield from (v for v in value if isinstance(v, list))
            else:
                yield from _argvs(value)
    elif isinstance(data, list):
        for value in data:
            yield from _argvs(value)


def leaks(case: Case, outcome: Outcome) -> list[str]:
    """Values from the input that reach a command as an option, or fake a line of output."""
    out = []
    for line in outcome.output.splitlines():
        if line.lstrip().startswith(FAKED_LINES):
            out.append(f"faked output line: {line.strip()[:80]!r}")
    if any(COMMAND_KEYS.search(note) for note in case.notes):
        return out
    try:
        plan = json.loads(outcome.output)
    except ValueError:
        return out
    for argv in _argvs(plan):
        head = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
        bad = [a for a in head if a.startswith(OPTION_MARKERS)]
        found = f"option from the input: {argv[0]} {bad[0][:40]!r}" if bad else None
        if found and found not in out:
            out.append(found)
    return out


def problems(outcome: Outcome, case: Case | None = None) -> list[str]:
    """What breaks the property: exit 0 or 2, no traceback, no network, nothing run;
    no input value taken as an option or faking a line of the output."""
    out = []
    if outcome.network:
        out.append(f"network: {outcome.network[0]}")
    if outcome.error is not None:
        lines = outcome.error.strip().splitlines()
        said = [ln for ln in lines if ln.startswith("internal error:")] or lines[-1:]
        name = said[0].removeprefix("internal error:").strip().split(":", 1)[0]
        out.append(f"traceback: {name}")
    elif outcome.code not in (0, 2):
        out.append(f"exit {outcome.code}")
    if PWNED.exists():
        out.append(f"planted command ran: {PWNED} exists")
    if case is not None and outcome.code == 0:
        out += leaks(case, outcome)
    return out
