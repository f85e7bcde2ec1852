"""Hashing: folders into manifests (blake3), with the stat cache.

May import: errors.
"""
