"""kite's command line: one module per command; the only package that imports typer.

May import: every package.
"""
