"""What has been run: records, committed state, the ledger, log, timeline, fsck and gc.

May import: errors, scan, spec, store, env.
"""
