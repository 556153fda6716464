package contactfile

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// rowGenerator is an io.Reader producing a CSV of n rows on the fly, so
// that the test itself holds no file.
type rowGenerator struct {
	n, i int
	buf  []byte
}

func (g *rowGenerator) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf = append(g.buf, "externalId,firstName,lastName,email,phone,notes\n"...)
		} else {
			g.buf = fmt.Appendf(g.buf, "%d,First%d,Last%d,p%d@example.com,+1415555%04d,\"a note\nover two lines\"\n",
				g.i, g.i, g.i, g.i, g.i%10000)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

// TestReaderMemoryIsBounded reads a generated 300k-row CSV and checks that
// the live heap does not grow with the file. It is not parallel, so the
// heap is the reader's alone.
func TestReaderMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 300k rows")
	}
	const rows = 300_000
	r, err := NewReader(&rowGenerator{n: rows}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	var peak uint64
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n++; n%50_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if n != rows {
		t.Fatalf("read %d rows, want %d", n, rows)
	}
	// The generated file is about 25 MiB; the reader should hold a few
	// buffers of 64 KiB.
	if peak > 8<<20 {
		t.Errorf("live heap reached %d bytes while reading", peak)
	}
	t.Logf("peak live heap %d KiB", peak>>10)
}
