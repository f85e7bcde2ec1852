"""Where task attempts run: a local process pool or Kubernetes pods.

May import: errors, scan, spec (the layers are in docs/architecture.md).
"""
