# Bulk reachability of 10,000 contacts (the API's limit) over 50,000: prints p50/p95 in ms.
# Target: p95 under 50 ms.
.PHONY: bench-reachability
bench-reachability:
	$(GO) test ./consent -run '^$$' -bench BenchmarkReachableMany -benchtime 50x
