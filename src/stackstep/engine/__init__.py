"""Execute a plan: the executor (asyncio, limits, failure policy, cancellation), the
actions (step kind -> commands and checks: the single interpretation table), the
journal (SQLite) and the event stream that the console, the log and the journal read.
"""
