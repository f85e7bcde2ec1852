"""Running a plan: apply, backfill and debug, lanes of executors, gates on outputs."""
