rm "$(find cache -type f | sort | head -n 1)"
