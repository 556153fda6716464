# Erasure: how fast batches of ERASURE_BATCH contacts are erased from ERASURE_CONTACTS, the
# lookups of copies (import error rows, stored responses, events, River jobs) included.
ERASURE_BATCH    ?= 10
ERASURE_CONTACTS ?= 20000
.PHONY: bench-erasure
bench-erasure:
	ERASURE_BATCH=$(ERASURE_BATCH) ERASURE_CONTACTS=$(ERASURE_CONTACTS) \
		$(GO) test ./erasure -run '^$$' -bench BenchmarkEraseBatch -benchtime 10x -count 1 -timeout 60m
