"""Working out what is stale: datums, fingerprints, decisions, saved plans."""
