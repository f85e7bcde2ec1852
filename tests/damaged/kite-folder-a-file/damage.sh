rm -rf .kite && echo x > .kite
