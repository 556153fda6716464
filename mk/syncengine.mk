# External sync's engine (issue 10): a first pull of 10,000 records from an HTTP source into an
# empty database (every record validated, looked up by email, checked for duplicates, created
# with its audit entry, link and normalize job), then a full resync of the same records
# (every record skipped by its content hash). Prints records/s and seconds per pull.
# Target: the engine is not the bottleneck of a 10,000-card initial pull in 30 s.
.PHONY: bench-sync
bench-sync:
	SYNC_BENCH_RECORDS=10000 $(GO) test ./sync/syncengine -run '^$$' -bench BenchmarkPull -benchtime 1x
