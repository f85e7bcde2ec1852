: > kite.lock
