# Erasure: how fast batches of 10 contacts are erased, the scans of copies included.
.PHONY: bench-erasure
bench-erasure:
	go test ./erasure -run '^$$' -bench BenchmarkEraseBatch -benchtime 10x -count 1
