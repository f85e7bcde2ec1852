"""Running a plan: apply, backfill and debug, lanes of executors, gates on outputs.

May import: every package but cli.
"""
