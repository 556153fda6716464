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
