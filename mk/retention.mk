# A retention run over RETENTION_ROWS generated contacts (loaded with COPY into a fresh
# database RETENTION_DB on DATABASE_URL's server): dry run and run times, contacts changed, peak
# memory; then, with RETENTION_ERASE=N, an erase policy over N tagged contacts through the real
# erasure (its lookups of copies timed at scale); RETENTION_FLAGS=-archive=false skips the archive run.
# Target: minutes, memory bounded (a batch of contacts at a time).
RETENTION_ROWS  ?= 1000000
RETENTION_ERASE ?= 0
RETENTION_DB    ?= contactd_retentionbench
.PHONY: bench-retention
bench-retention:
	$(GO) run ./tools/retentionbench -n $(RETENTION_ROWS) -erase $(RETENTION_ERASE) -db $(RETENTION_DB) $(RETENTION_FLAGS)
