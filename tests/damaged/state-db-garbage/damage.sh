find .kite -maxdepth 1 -type f | while read -r f; do echo garbage > "$f"; done
