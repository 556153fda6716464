package contactfile

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
)

// Format names a contact file format.
type Format string

// The formats a Reader reads and a Writer writes.
const (
	CSV    Format = "csv"
	NDJSON Format = "ndjson"
	VCard  Format = "vcard"
)

// ErrUnknownFormat is returned when a format cannot be parsed or detected.
var ErrUnknownFormat = errors.New("contactfile: unknown format")

// ParseFormat returns the Format named by s, accepting the usual aliases
// ("jsonl" for NDJSON, "vcf" for vCard), in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv", "tsv":
		return CSV, nil
	case "ndjson", "jsonl", "jsonlines":
		return NDJSON, nil
	case "vcard", "vcf":
		return VCard, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownFormat, s)
}

// ContentType returns the media type to serve a file of this format with.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case NDJSON:
		return "application/x-ndjson"
	case VCard:
		return "text/vcard; charset=utf-8"
	}
	return "application/octet-stream"
}

// Extension returns the usual file name extension of the format, with its dot.
func (f Format) Extension() string {
	switch f {
	case CSV:
		return ".csv"
	case NDJSON:
		return ".ndjson"
	case VCard:
		return ".vcf"
	}
	return ""
}

// DetectFormat guesses the format of a file from its first bytes, its media
// type and its name, any of which may be empty. Content that can only be one
// format (a BEGIN:VCARD line, a leading '{') wins; then a specific media type;
// then the name's extension; then any other text is taken as CSV. It returns
// ErrUnknownFormat when nothing gives a clue.
func DetectFormat(name, contentType string, head []byte) (Format, error) {
	head = bytes.TrimPrefix(head, utf8BOM)
	head = bytes.TrimLeft(head, " \t\r\n")
	switch {
	case hasPrefixFold(head, "BEGIN:VCARD"):
		return VCard, nil
	case len(head) > 0 && head[0] == '{':
		return NDJSON, nil
	}
	if f, ok := formatFromContentType(contentType); ok {
		return f, nil
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".csv", ".tsv", ".tab":
		return CSV, nil
	case ".ndjson", ".jsonl", ".json":
		return NDJSON, nil
	case ".vcf", ".vcard":
		return VCard, nil
	}
	if len(head) > 0 {
		return CSV, nil
	}
	return "", ErrUnknownFormat
}

func formatFromContentType(contentType string) (Format, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	switch mt {
	case "text/csv", "application/csv", "text/tab-separated-values", "application/vnd.ms-excel":
		return CSV, true
	case "application/x-ndjson", "application/ndjson", "application/jsonl",
		"application/x-jsonlines", "application/jsonlines":
		return NDJSON, true
	case "text/vcard", "text/x-vcard", "text/directory":
		return VCard, true
	}
	return "", false
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}
