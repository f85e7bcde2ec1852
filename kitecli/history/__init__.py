"""What has been run: records, committed state, the ledger, log, fsck and gc."""
