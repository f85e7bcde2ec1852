rm -rf data/clean && echo x > data/clean
