"""Renderings of plans (and, with the engine, of runs): text tree and JSON."""
