#!/bin/sh
# report.sh DAY.tsv...: $REPORT/status.tsv sums the days' counts per status code, most
# requests first; $REPORT/days.txt lists the days counted.
set -eu
for f in "$@"; do basename "$f" .tsv; done > "$REPORT/days.txt"
grep -hv '^#' "$@" \
  | awk -F '\t' '{ total[$1] += $2 } END { for (s in total) printf "%s\t%d\n", s, total[s] }' \
  | sort -t "$(printf '\t')" -k2,2nr -k1,1 > "$REPORT/status.tsv"
