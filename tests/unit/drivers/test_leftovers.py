from pathlib import Path

from stackstep.drivers.leftovers import Leftover, parse_leftovers

DATA = Path(__file__).resolve().parents[2] / "data" / "outputs" / "leftovers"


def test_rpm_keeps_edited_noreplace_file_and_saves_edited_plain_config():
    found = parse_leftovers((DATA / "find-rpm.txt").read_text())
    assert found == {
        "rpmnew": [Leftover("/etc/nova/nova.conf.rpmnew", "/etc/nova/nova.conf", "rpmnew")],
        "rpmsave": [
            Leftover("/etc/nova/api-paste.ini.rpmsave", "/etc/nova/api-paste.ini", "rpmsave")
        ],
    }


def test_dpkg_confold_and_confnew():
    found = parse_leftovers((DATA / "find-deb.txt").read_text())
    assert [x.original for x in found["dpkg-dist"]] == ["/etc/nova/nova.conf"]
    assert [x.original for x in found["dpkg-old"]] == ["/etc/glance/glance-api.conf"]


def test_nothing_left_over_on_this_machine():
    assert parse_leftovers((DATA / "find-host-none.txt").read_text()) == {}


def test_every_kind_and_noise():
    text = "\n".join(
        [
            "/etc/b.conf.ucf-dist",
            "/etc/a.conf.rpmorig",
            "/etc/a.conf",  # not a leftover
            ".rpmnew",  # a bare suffix names no file
            "/etc/x.conf.dpkg-new",
        ]
    )
    found = parse_leftovers(text)
    assert sorted(found) == ["dpkg-new", "rpmorig", "ucf-dist"]
    assert found["ucf-dist"][0].original == "/etc/b.conf"
