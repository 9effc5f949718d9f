"""Open a TCP connection from inside a named network namespace (``/run/netns/NAME``).

The lab's hosts live in network namespaces whose addresses exist nowhere else; stackstep
reaches them by creating the socket inside the lab's router namespace (``setns`` on the
calling thread, then back), and hands the connected socket to asyncssh.
"""

from __future__ import annotations

import ctypes
import os
import socket

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"cannot enter network namespace {what}: {os.strerror(errno)}")


def connect_in_netns(netns: str, address: str, port: int, timeout: float) -> socket.socket:
    """A connected, non-blocking socket to ``address:port`` opened inside ``netns``."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    except OSError as exc:
        os.close(own)
        raise OSError(exc.errno, f"no network namespace {netns!r} (is the lab up?)") from None
    try:
        _setns(target, netns)
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        finally:
            _setns(own, "of this process")
    finally:
        os.close(own)
        os.close(target)
    sock.setblocking(False)
    return sock
