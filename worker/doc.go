// Package worker holds contactd's River workers and builds the River client that runs them. Each
// worker is a thin shell: it decodes its job, calls the domain package that owns the work
// (contact, importer, dedupe) through internal/app, and completes the job in the transaction of
// its writes where that matters. It must not hold SQL or business rules of its own.
package worker
