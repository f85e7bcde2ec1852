# kill -9 at a random point of a backfill that runs every datum of `clean` again
STEP_SLEEP=0.4 KITE_CHECKPOINT_SECONDS=0 KITE_LEASE_TTL=2 \
  $KITE backfill --range 2024-01-01..2024-01-02 --reprocess all --stage clean >/dev/null 2>&1 &
sleep "$(shuf -i 5-15 -n 1 | sed 's/.$/.&/')"
kill -9 $!
wait
sleep 2.5  # its steps end, its lease expires
