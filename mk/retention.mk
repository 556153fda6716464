# A retention run over RETENTION_ROWS generated contacts (loaded with COPY into a fresh
# database on DATABASE_URL's server): dry run and run times, contacts changed, peak memory.
# Target: minutes, memory bounded (a batch of contacts at a time).
RETENTION_ROWS ?= 1000000
.PHONY: bench-retention
bench-retention:
	$(GO) run ./tools/retentionbench -n $(RETENTION_ROWS)
