"""An environment variable name from any source can never become an option of `env`."""

from __future__ import annotations

import pytest

from stackstep.model.command import Command
from stackstep.model.inventory import Host
from stackstep.transport.base import host_argv

EVIL = "-S sh -c 'touch /tmp/pwned' #"


@pytest.mark.parametrize("key", [EVIL, "A=B", "1X", "", "A B", "A\nB"])
def test_a_host_or_command_with_a_bad_env_name_cannot_be_built(key):
    with pytest.raises(ValueError, match="invalid environment variable name"):
        Host("h", "127.0.0.1", env={key: "x"})
    with pytest.raises(ValueError, match="invalid environment variable name"):
        Command(("true",), env=((key, "x"),))


def test_good_names_reach_env_as_key_value_operands():
    host = Host("h", "127.0.0.1", become=True, env={"LC_ALL": "C", "_X1": "-S y"})
    argv = host_argv(host, Command(("true",), env=(("HTTP_PROXY", "p"),)))
    assert argv == ["sudo", "-n", "--", "env", "LC_ALL=C", "_X1=-S y", "HTTP_PROXY=p", "true"]


def test_the_transport_refuses_a_bad_name_that_got_past_the_model():
    host = Host("h", "127.0.0.1", env={"OK": "1"})
    object.__setattr__(host, "env", {EVIL: "x"})  # as a buggy caller could
    with pytest.raises(ValueError, match="invalid environment variable name"):
        host_argv(host, Command(("true",)))
