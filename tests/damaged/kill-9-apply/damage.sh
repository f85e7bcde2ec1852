# kill -9 an apply that runs every datum of `clean` again (a new version, the same bytes)
sed -i 's/^  clean:$/  clean:\n    version: 2/' pipeline.yaml
STEP_SLEEP=0.4 KITE_CHECKPOINT_SECONDS=0 KITE_LEASE_TTL=2 $KITE apply --parallel 2 >/dev/null 2>&1 &
sleep "$(shuf -i 8-25 -n 1 | sed 's/.$/.&/')"
kill -9 $!
wait
sleep 2.5  # its steps end, its lease expires
