# the ref set back to the first commit of the history
c=$(cat meta/refs/dev); while :; do h=${c#b3:}; p=$(sed -n "s/.*\"parent\":\"\(b3:[0-9a-f]*\)\".*/\1/p" "meta/objects/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-)"); [ -n "$p" ] || break; c=$p; done
[ "$c" != "$(cat meta/refs/dev)" ] || { echo "one commit only: nothing to set back" >&2; exit 1; }
echo "$c" > meta/refs/dev
