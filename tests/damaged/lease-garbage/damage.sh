echo '{not json' > meta/leases/dev
