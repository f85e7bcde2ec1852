rm meta/refs/dev
