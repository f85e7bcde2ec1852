rm -rf cache && echo x > cache
