rm -rf meta && echo x > meta
