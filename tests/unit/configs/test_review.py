"""The config review's actions on real files (local transport) and its base recovery
(scripted transport): what is kept, what is backed up, what is never lost."""

from __future__ import annotations

import asyncio
import stat

from stackstep.configs import review as ops
from stackstep.model.inventory import Host
from stackstep.transport.base import TransportOptions
from stackstep.transport.fake import FakeTransport, Reply, on
from stackstep.transport.local import LocalTransport

RUN = "20261126-130501-3fa2"


def local() -> LocalTransport:
    return LocalTransport(Host("ctl", "127.0.0.1", transport="local"), TransportOptions())


def read(transport, path):
    return asyncio.run(ops.read_set_aside(transport, str(path)))


def test_rpmnew_keep_deletes_the_new_default_only(tmp_path):
    (tmp_path / "nova.conf").write_text("[DEFAULT]\ndebug = True\n")
    (tmp_path / "nova.conf.rpmnew").write_text("[DEFAULT]\n")
    item = read(local(), tmp_path / "nova.conf.rpmnew")
    assert (item.ours, item.theirs) == ("[DEFAULT]\ndebug = True\n", "[DEFAULT]\n")
    asyncio.run(ops.keep(local(), item, RUN))
    assert (tmp_path / "nova.conf").read_text() == "[DEFAULT]\ndebug = True\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nova.conf"]


def test_rpmsave_is_the_sites_file_and_is_never_deleted(tmp_path):
    """rpm moved the site's file to .rpmsave and installed the new default as live."""
    (tmp_path / "plugin.ini").write_text("[ovs]\nbridge = br-int\n")
    (tmp_path / "plugin.ini.rpmsave").write_text("[ovs]\nbridge = br-site\n")
    item = read(local(), tmp_path / "plugin.ini.rpmsave")
    assert not item.new_default_aside
    assert item.ours == "[ovs]\nbridge = br-site\n"  # yours: the set-aside file
    assert item.theirs == "[ovs]\nbridge = br-int\n"  # the new default: the live file
    done = asyncio.run(ops.accept(local(), item, RUN))
    assert (tmp_path / "plugin.ini").read_text() == "[ovs]\nbridge = br-int\n"
    assert done.backup == str(tmp_path / f"plugin.ini.rpmsave.stackstep-{RUN}")
    assert (tmp_path / f"plugin.ini.rpmsave.stackstep-{RUN}").read_text() == item.ours


def test_keep_of_an_rpmsave_puts_it_back_in_place_keeping_the_files_mode(tmp_path):
    (tmp_path / "plugin.ini").write_text("new default\n")
    (tmp_path / "plugin.ini").chmod(0o640)
    (tmp_path / "plugin.ini.rpmsave").write_text("[ovs]\nbridge = br-site\n")
    done = asyncio.run(ops.keep(local(), read(local(), tmp_path / "plugin.ini.rpmsave"), RUN))
    assert (tmp_path / "plugin.ini").read_text() == "[ovs]\nbridge = br-site\n"
    assert stat.S_IMODE((tmp_path / "plugin.ini").stat().st_mode) == 0o640
    assert (tmp_path / f"plugin.ini.stackstep-{RUN}").read_text() == "new default\n"
    assert done.backup and not (tmp_path / "plugin.ini.rpmsave").exists()


def test_backups_never_overwrite_an_earlier_one(tmp_path):
    (tmp_path / "a.conf").write_text("1\n")
    first = asyncio.run(ops.backup(local(), str(tmp_path / "a.conf"), RUN))
    (tmp_path / "a.conf").write_text("2\n")
    second = asyncio.run(ops.backup(local(), str(tmp_path / "a.conf"), RUN))
    assert (first, second) == (str(tmp_path / f"a.conf.stackstep-{RUN}"), f"{first}.1")
    assert (tmp_path / f"a.conf.stackstep-{RUN}").read_text() == "1\n"


def test_a_merge_writes_in_place_and_bytes_that_are_not_utf8_survive(tmp_path):
    live = tmp_path / "glance-api.conf"
    live.write_bytes(b"[DEFAULT]\n# caf\xe9\nworkers = 4\n")
    live.chmod(0o640)
    (tmp_path / "glance-api.conf.dpkg-dist").write_text("[DEFAULT]\nworkers = 1\n")
    item = read(local(), tmp_path / "glance-api.conf.dpkg-dist")
    merged = item.ours.replace("workers = 4", "workers = 4\nbind_port = 9292")
    done = asyncio.run(ops.apply_merge(local(), item, merged, RUN))
    assert live.read_bytes() == b"[DEFAULT]\n# caf\xe9\nworkers = 4\nbind_port = 9292\n"
    assert stat.S_IMODE(live.stat().st_mode) == 0o640
    assert done.backup == f"{live}.stackstep-{RUN}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "glance-api.conf",
        f"glance-api.conf.stackstep-{RUN}",
    ]


CONF = "/etc/keystone/keystone.conf"


def test_base_from_the_cache_is_the_version_the_run_started_with():
    cached = "/var/cache/yum/p/openstack-keystone-2013.1.4-1.el6.noarch.rpm\n"
    fake = FakeTransport(
        "ctl",
        [
            on(["rpm", "-qf"], stdout="openstack-keystone\n"),
            on(["rpm", "-q", "--qf"], stdout="(none):2013.2-1.el6\n"),
            on(["find"], exit_status=1, stdout=cached, stderr="find: '/var/cache/dnf': No such"),
            on(["sh", "-c"], stdout="[DEFAULT]\n"),
        ],
    )
    base = asyncio.run(
        ops.recover_base(fake, "rpm", "yum", CONF, {"openstack-keystone": "2013.1.4-1.el6"})
    )
    assert base.text == "[DEFAULT]\n"
    assert base.source.startswith("openstack-keystone-2013.1.4-1.el6.noarch.rpm")
    assert fake.history[-1].command.reveal()[-2:] == [cached.strip(), "." + CONF]


def test_base_downloaded_when_not_cached_and_the_download_dir_is_removed():
    fetched = "/var/tmp/stackstep-base.x1/openstack-keystone-2013.1.4-1.el6.noarch.rpm\n"

    def answer(call):
        argv = call.command.reveal()
        replies = {
            "rpm": Reply(stdout="openstack-keystone\n" if argv[1] == "-qf" else "2013.2-1.el6\n"),
            "find": Reply(stdout=fetched if "/var/tmp/stackstep-base.x1" in argv else ""),
            "mktemp": Reply(stdout="/var/tmp/stackstep-base.x1\n"),
            "dnf": Reply(),
            "sh": Reply(stdout="[DEFAULT]\nold = 1\n"),
            "rm": Reply(),
        }
        return replies[argv[0]]

    fake = FakeTransport("ctl", answer)
    base = asyncio.run(
        ops.recover_base(fake, "rpm", "dnf", CONF, {"openstack-keystone": "2013.1.4-1.el6"})
    )
    assert base.text == "[DEFAULT]\nold = 1\n"
    assert base.source == "openstack-keystone 2013.1.4-1.el6, downloaded"
    assert "dnf -q download --destdir /var/tmp/stackstep-base.x1" in " ".join(fake.calls)
    assert fake.calls[-1] == "rm -rf -- /var/tmp/stackstep-base.x1"


def test_no_base_says_why():
    fake = FakeTransport("ctl", [on(["rpm", "-qf"], 1, f"file {CONF} is not owned by any package")])
    base = asyncio.run(ops.recover_base(fake, "rpm", "yum", CONF, {}))
    assert (base.text, base.source) == (None, f"no installed package owns {CONF}")
    fake = FakeTransport(
        "ctl",
        [
            on(["dpkg-query", "-S"], stdout=f"keystone: {CONF}\n"),
            on(["dpkg-query", "-W"], stdout="2:25.0.0-0ubuntu1\n"),
            on(["find"], stdout=""),
        ],
    )
    base = asyncio.run(ops.recover_base(fake, "deb", "apt", CONF, {}, download=False))
    assert base.text is None
    assert base.source == (
        "no older keystone package in /var/cache/apt/archives"
        " and the version before the upgrade is unknown"
    )
