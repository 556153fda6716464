// Package worker holds contactd's River workers and builds the River client that runs them. Each
// worker is a thin shell: it decodes its job, calls package contact (and later matcher and
// sync), and completes the job in the transaction of its writes where that matters. It must
// not hold SQL or business rules of its own.
package worker
