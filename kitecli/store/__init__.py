"""Where kite keeps things: the metadata repo, the content-addressed store, data roots."""
