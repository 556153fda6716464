# Matcher evaluation and benchmarks (issue 3). See matcher/ and cmd/contactd/eval.go.
DATASETS     ?= ../shared/datasets
BENCH_ROWS   ?= 1000000
BENCH_DATA   ?= bin/bench-contacts-$(BENCH_ROWS).csv
EVAL          = bin/contactd eval

.PHONY: eval bench-data bench-matcher bench-search

# One table over every labelled data set: pairwise P/R/F1 at the configured
# auto-merge threshold, best F1 over thresholds, candidate pairs, time, memory.
eval: build
	@test -d $(DATASETS) || { echo "eval: $(DATASETS) not found"; exit 1; }
	@$(EVAL) --header
	@$(EVAL) --row crm_contacts --settings contacts --data $(DATASETS)/crm_contacts/contacts.csv --id externalId --truth-file $(DATASETS)/crm_contacts/truth.csv
	@$(EVAL) --row crm_contacts_50k --settings contacts --data $(DATASETS)/crm_contacts_50k/contacts.csv --id externalId --truth-file $(DATASETS)/crm_contacts_50k/truth.csv
	@for n in 1 2 3; do \
		$(EVAL) --row febrl$$n --settings febrl --data $(DATASETS)/febrl$$n/dataset$$n.csv --id rec_id --truth febrl || exit 1; \
	done
	@$(EVAL) --row febrl4 --settings febrl --data $(DATASETS)/febrl4/dataset4a.csv --data2 $(DATASETS)/febrl4/dataset4b.csv --id rec_id --truth febrl
	@$(EVAL) --row splink_fake_1000 --settings fake_1000 --data $(DATASETS)/splink_fake_1000/fake_1000.csv --id unique_id --truth cluster
	@$(EVAL) --row splink_historical_50k --settings historical_50k --data $(DATASETS)/splink_historical_50k/historical_figures_with_errors_50k.csv --id unique_id --truth cluster

# A million realistic generated contacts with labelled duplicates.
bench-data: $(BENCH_DATA)
$(BENCH_DATA):
	@mkdir -p $(dir $@)
	$(GO) run ./tools/benchdata -n $(BENCH_ROWS) -out $@

# Train, score and cluster the generated contacts in one process; then the
# Go benchmarks of the hot paths (pairs per second per core, one record
# against its candidates).
bench-matcher: build $(BENCH_DATA)
	@$(EVAL) --header
	@$(EVAL) --row bench-$(BENCH_ROWS) --sweep=false --data $(BENCH_DATA) --id externalId --truth entity
	$(GO) test -run '^$$' -bench 'ScorePair|Match|Keys|Blocking|Dedupe' -benchtime 2s ./matcher

# make eval-db (Makefile) also measures the live path: the same import into a serving contactd,
# timed until every duplicate check it caused is done, next to the scan path on
# crm_contacts_50k. Each prints precision, recall, F1 and the time to settle, and the live path's
# time as a multiple of the scan path's (the target is at most 2×).
.PHONY: eval-db-paths
eval-db: eval-db-paths
eval-db-paths: build
	$(GO) run ./tools/evaldb -bin bin/contactd -path live -db contactd_evaldb_live
	$(GO) run ./tools/evaldb -bin bin/contactd -path both -db contactd_evaldb_50k \
		-data $(DATASETS)/crm_contacts_50k/contacts.csv -truth-file $(DATASETS)/crm_contacts_50k/truth.csv

# Search latency and quality on a generated database (issue 12). DATABASE_URL names the database
# (create it first: createdb contactd_bench_search); it is migrated and, when it has no contacts,
# filled from $(BENCH_DATA) by `contactd import` (several minutes for a million rows; the import
# keeps the CSV's entity column in each contact's extra data, which the quality measure reads).
# searchbench then gives the contacts tags and two custom fields once and prints the latency
# table (p50/p95/p99 of a page of 50 per search and filter combination) and the typo search
# quality (1,000 queries).
bench-search: build $(BENCH_DATA)
	@test -n "$(DATABASE_URL)" || { echo "bench-search: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/contactd_bench_search)"; exit 1; }
	bin/contactd migrate
	@if [ "$$(psql "$(DATABASE_URL)" -Atc 'SELECT count(*) FROM contacts')" = 0 ]; then \
		echo "bench-search: importing $(BENCH_DATA)"; bin/contactd import --file $(BENCH_DATA) || exit 1; \
	fi
	$(GO) run ./tools/searchbench $(SEARCHBENCH_FLAGS)
