# Process-level tests (package faults): the built binary as several processes.
# scale-test: two `serve --no-workers` and two `worker` processes on one database share the work.
# fault-tests: kill -9 of a worker mid-import, mid-scan, mid-webhook-delivery and mid-sync (http, CardDAV on Radicale), and a
# PostgreSQL restart under writes, each on a private PostgreSQL cluster the test starts (initdb
# into a temp dir); prints the fault table.
.PHONY: scale-test fault-tests
scale-test:
	CONTACTD_PROCESS_TESTS=1 $(GO) test -count=1 -timeout 20m -run 'TestScaleOut' -v ./faults/

fault-tests:
	CONTACTD_PROCESS_TESTS=1 $(GO) test -count=1 -timeout 30m -v ./faults/
