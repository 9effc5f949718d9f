"""Run a command somewhere: the protocol, local, ssh (asyncssh) and a scripted fake.

``open_transport(host, options)`` returns the right transport for an inventory host.
Only ``transport/ssh.py`` imports asyncssh, and it translates every asyncssh/OSError
failure into :mod:`stackstep.errors` in one place.
"""
