# Erasure: how fast a batch of 500 contacts is erased (retention's erase action), scans included.
.PHONY: bench-erasure
bench-erasure:
	go test ./erasure -run '^$$' -bench BenchmarkEraseBatch -benchtime 10x -count 1
