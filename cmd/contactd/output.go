package main

import (
	"fmt"
	"io"
)

// say writes a line of status or progress for the person running a command (what was queued,
// how far an import got, usage). A line that cannot be written (the terminal closed, the
// reader of a pipe left) is no reason to fail or stop the work it reports on, so say drops the
// write error, here once. Output that is a command's product (an API key's token, an
// evaluation report) goes through errWriter instead, and its error fails the command.
func say(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// errWriter writes to w until a write fails and keeps that error, so that a report of many
// lines is checked once, at its end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
