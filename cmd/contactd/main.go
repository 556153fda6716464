// Command contactd is the contact-data service: serve (API and workers), worker, migrate and
// apikey. See the README for configuration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		// Nothing is left to tell of a failure to write to stderr: the exit status says it.
		_, _ = fmt.Fprintln(os.Stderr, "contactd:", err)
		os.Exit(1)
	}
}
