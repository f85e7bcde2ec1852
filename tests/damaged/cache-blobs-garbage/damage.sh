find cache -type f | while read -r f; do chmod u+w "$f"; echo garbage > "$f"; done
