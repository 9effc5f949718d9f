"""Execute a plan: the executor (asyncio, limits, failure policy, cancellation), the
actions (step kind -> commands and checks: the single interpretation table), the
journal (SQLite) and the event stream that the console, the log and the journal read.
What the actions use: health checks (health), the preflight step's checks (preflight),
the catalog's file hooks (hooks) and database backups (backup). The features built on
the engine (configs, reboot, restore) are packages of their own, above it.
"""
