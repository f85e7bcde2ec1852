#!/bin/sh
# count.sh LOG OUT: OUT/<day>.tsv holds "status<TAB>requests" for one day's log. Its first
# line names the file it was made from, as many tools do: kite gives the same path to
# the same datum in every run, so the bytes still match and the report is not redone.
set -eu
log=$1
out=$2
day=$(basename "$log" .log)
{
  printf '# source: %s\n' "$log"
  awk -f steps/count.awk "$log" | sort -k1,1
} > "$out/$day.tsv"
