"""stackstep: upgrade a multi-host OpenStack cloud one service at a time."""

__version__ = "0.1.0"
