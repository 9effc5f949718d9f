"""Backend intent -> commands (and, with discovery, pure parsers of their output).

Drivers know how systemd, SysV ``service``, yum, dnf and apt spell an action; the
planner asks them for the exact commands a step will run so that the dry run shows
them. They never run anything themselves.
"""
