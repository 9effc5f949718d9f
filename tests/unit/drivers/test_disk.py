import subprocess
from pathlib import Path

from stackstep.drivers.disk import parse_df

DATA = Path(__file__).resolve().parents[2] / "data" / "outputs" / "df"


def test_three_paths_on_one_filesystem():
    spaces = parse_df((DATA / "var-cache-tmp.txt").read_text(), ("/var", "/var/cache", "/tmp"))
    assert [s.path for s in spaces] == ["/var", "/var/cache", "/tmp"]
    assert spaces[0].mount == "/" and spaces[0].available_kib == 83322768


def test_a_nearly_full_rhel6_root():
    (space,) = parse_df((DATA / "rhel6-full.txt").read_text(), ("/var",))
    assert space.available_gib < 1 and space.mount == "/"


def test_missing_path_gives_nothing():
    assert parse_df((DATA / "missing.txt").read_text(), ("/nonexistent",)) == []


def test_live_df_here():
    out = subprocess.run(["df", "-Pk", "/var", "/tmp"], capture_output=True, text=True, check=True)
    spaces = parse_df(out.stdout, ("/var", "/tmp"))
    assert len(spaces) == 2 and all(s.available_kib > 0 for s in spaces)
