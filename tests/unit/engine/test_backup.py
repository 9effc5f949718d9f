"""DB backups of the seed's services: the database URL in the service's config file,
the credentials kept out of the command."""

from __future__ import annotations

import asyncio

from stackstep.engine.backup import backup_database, database_url
from stackstep.model.params import BackupParams
from stackstep.model.plan import Step, StepKind
from stackstep.transport.fake import FakeTransport, on

# quantum's plugin.ini in the seed (Grizzly), shortened: the database URL is in [DATABASE]
QUANTUM_CONF = """[DEFAULT]
rpc_backend = quantum.openstack.common.rpc.impl_qpid
[keystone_authtoken]
admin_user = quantum
[DATABASE]
sql_connection = mysql://quantum:secret@ctl/ovs_quantum
"""


def test_database_url_from_ini():
    assert database_url(QUANTUM_CONF, "DATABASE", "sql_connection").startswith("mysql://")
    assert (
        database_url(
            "[DEFAULT]\nsql_connection = sqlite:////var/lib/nova/nova.sqlite\n",
            "DEFAULT",
            "sql_connection",
        )
        == "sqlite:////var/lib/nova/nova.sqlite"
    )
    assert database_url("[database]\nconnection = x\n", "sql", "connection") is None


def test_mysql_backup_passes_the_password_on_stdin_never_in_the_command():
    fake = FakeTransport(
        "ctl", [on(["sh", "-c"])], files={"/etc/neutron/plugin.ini": QUANTUM_CONF.encode()}
    )
    step = Step(
        "services/neutron/ctl/backup-db",
        StepKind.BACKUP_DB,
        "t",
        "ctl",
        "neutron",
        params=BackupParams.from_json(
            {
                "config": "/etc/neutron/plugin.ini",
                "section": "DATABASE",
                "key": "sql_connection",
                "database": "ovs_quantum",
            }
        ),
    )
    path, _ = asyncio.run(backup_database(step, fake, "RUN1", lambda s, r: None))
    assert path == "/var/lib/stackstep/backups/RUN1/ovs_quantum.sql"
    (call,) = fake.history
    assert "secret" not in call.rendered and "mysqldump" in call.rendered
    assert "password=secret" in call.stdin and "user=quantum" in call.stdin
