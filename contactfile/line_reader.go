package contactfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads physical lines with a length bound, counting them.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int
	buf  []byte
}

// next returns the next line without its "\n" or "\r\n" and its 1-based
// number. A line longer than the bound is consumed whole and returned
// truncated to the bound with tooLong set. The returned bytes are valid until
// the next call to any method of br. It returns io.EOF at the end.
func (l *lineReader) next() (b []byte, tooLong bool, err error) {
	b, err = l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.buf = append(l.buf[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = l.br.ReadSlice('\n')
			if room := l.max + 2 - len(l.buf); room > 0 {
				l.buf = append(l.buf, b[:min(room, len(b))]...)
			} else {
				tooLong = true
			}
		}
		b = l.buf
	}
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	l.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > l.max {
		b, tooLong = b[:l.max], true
	}
	return b, tooLong, nil
}
