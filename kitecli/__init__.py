"""kite: incremental data-preparation pipelines, git-style."""

__version__ = "0.1.0"
