"""Records: the ledger, the run records (run.json) in S3, the S3 client and its checks,
cost reports, the time format."""
