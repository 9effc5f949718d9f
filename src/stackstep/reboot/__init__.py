"""`stackstep reboot`: which hosts need a reboot after an upgrade and a scheduled reboot
(detect), the health-gated rolling reboot (rolling), and nova-compute switched off and on
around a compute host's reboot (computes).
"""
