"""Environments: what a test environment may write and what it reads from another.

May import: errors, scan, spec, store.
"""
