rm meta/refs/dev && mkdir meta/refs/dev
