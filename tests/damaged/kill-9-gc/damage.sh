# kill -9 a gc at a random point of its mark or sweep
echo x > data/raw/2024-01-09.csv && $KITE apply >/dev/null 2>&1 && rm data/raw/2024-01-09.csv
$KITE apply >/dev/null 2>&1  # the outputs of that day are garbage now
KITE_LEASE_TTL=2 $KITE gc --grace 0 >/dev/null 2>&1 &
sleep "0.$(shuf -i 0-9 -n 1)"
kill -9 $!
wait
sleep 2.5  # its lease expires
