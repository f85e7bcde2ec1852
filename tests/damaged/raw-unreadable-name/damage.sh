printf 'x\n' > "$(printf 'data/raw/\377.csv')"
