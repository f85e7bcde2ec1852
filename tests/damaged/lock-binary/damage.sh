printf '\000\377kite' > kite.lock
