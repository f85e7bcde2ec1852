: > meta/refs/dev
