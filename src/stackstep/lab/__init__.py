"""The lab cloud: real multi-host machines on one computer (docs/lab.md).

Each lab host is a ``systemd-nspawn`` container booting real systemd on its own overlayfs
copy of a cached golden Debian image, in its own network namespace on a bridge that
lives in the lab's router namespace. Lab addresses exist only inside namespaces the lab
creates; stackstep reaches the hosts through sockets opened in that router namespace.
Everything here needs root.
"""
