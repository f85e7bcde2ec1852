mkdir -p .kite/tmp/20260101-000000-dead/clean/x/out/clean && echo x > .kite/tmp/20260101-000000-dead/clean/x/out/clean/a && mkdir -p .kite/work/clean/x && echo x > .kite/work/clean/x.lock
