"""`stackstep restore`: put a service back as it was before a run upgraded it: the pure
plan read from the run's journal (plan) and its execution, phase by phase (run).
"""
