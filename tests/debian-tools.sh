#!/bin/sh
# The command-line tools from Debian's packages that end-to-end tests drive, installed when
# missing. A test whose tool could not be installed skips and names it.
set -u
missing=""
for pair in faketime:faketime; do
    tool=${pair%%:*} package=${pair#*:}
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
as_root=""
[ "$(id -u)" = 0 ] || as_root="sudo -n"
echo "installing for the tests:$missing"
if ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1; then
    $as_root apt-get update -q >/dev/null 2>&1
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 ||
        echo "warning: could not install$missing; the tests that need them will skip" >&2
fi
exit 0
