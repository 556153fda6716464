# Developer targets. The two set-up commands are in the README; these are extras.
GO ?= go

.PHONY: build test vet fmt
build:
	$(GO) build -o bin/contactd ./cmd/contactd

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

# Feature areas add their own targets (eval, bench-data, bench-import, ...) in mk/*.mk.
-include mk/*.mk

# POST /api/contacts throughput at 32 clients vs a plain pgx INSERT loop; create → normalized.
.PHONY: bench-api
bench-api:
	$(GO) run ./tools/apibench -c 32 -d 10s

# Import and export of ROWS generated contacts next to a bare COPY of the same file.
ROWS ?= 1000000
.PHONY: bench-import
bench-import: build
	$(GO) run ./tools/importbench -rows $(ROWS) -bin bin/contactd

# Duplicates end to end over the database: import crm_contacts, dedupe --wait, export, and score
# the exported clusters against the truth; then the same for a generated database of
# EVALDB_ROWS contacts (make bench-data makes it).
EVALDB_ROWS ?= 1000000
.PHONY: eval-db
eval-db: build
	$(GO) run ./tools/evaldb -bin bin/contactd
	$(MAKE) bench-data BENCH_ROWS=$(EVALDB_ROWS)
	$(GO) run ./tools/evaldb -bin bin/contactd -db contactd_evaldb_gen -train -data bin/bench-contacts-$(EVALDB_ROWS).csv -truth-file "" -truth entity

# Webhook delivery on loopback through one stream: events/s of a burst, commit → receiver p50/p99;
# and what the outbox adds to an import batch of 20,000 rows.
.PHONY: bench-webhooks
bench-webhooks:
	$(GO) test -run '^$$' -bench Delivery -benchtime 1x ./webhook/
	$(GO) test -run '^$$' -bench ImportBatchEvents -benchtime 5x ./event/
