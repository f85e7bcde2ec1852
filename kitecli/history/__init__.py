"""What has been run: records, committed state, the ledger, log, fsck and gc.

May import: errors, scan, spec, store, env.
"""
