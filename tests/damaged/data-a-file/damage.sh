rm -rf data && echo x > data
