// Package faults holds contactd's process-level tests: the built binary run as several
// `serve --no-workers` and `worker` processes over one database (scale-out), and faults
// injected into them (kill -9 of a worker mid-job, a PostgreSQL restart under writes, on a
// private PostgreSQL cluster the tests start themselves). It has tests only; they run when
// CONTACTD_PROCESS_TESTS is set (make scale-test, make fault-tests).
package faults
