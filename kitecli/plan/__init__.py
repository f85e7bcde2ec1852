"""Working out what is stale: datums, fingerprints, decisions, saved plans.

May import: errors, scan, spec, store, env, history. Only planning.py reads the disk.
"""
