find meta/objects -type f | while read -r f; do echo garbage > "$f"; done
