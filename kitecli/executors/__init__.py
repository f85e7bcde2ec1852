"""Where task attempts run: a local process pool or Kubernetes pods."""
