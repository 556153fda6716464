package contactfile

import (
	"errors"
	"testing"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Format
	}{
		{"csv", CSV}, {"CSV", CSV}, {"ndjson", NDJSON}, {"jsonl", NDJSON},
		{"vcf", VCard}, {" vCard ", VCard},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseFormat("xlsx"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ParseFormat(xlsx) error = %v, want ErrUnknownFormat", err)
	}
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, contentType, head string
		want                          Format
		wantErr                       bool
	}{
		{name: "vcard content beats extension", file: "x.csv", head: "\r\nbegin:vcard\r\n", want: VCard},
		{name: "ndjson content", head: "\xEF\xBB\xBF{\"email\":\"a@b\"}\n", want: NDJSON},
		{name: "content type csv", contentType: "text/csv; charset=utf-8", head: "", want: CSV},
		{name: "excel content type", contentType: "application/vnd.ms-excel", want: CSV},
		{name: "content type ndjson", contentType: "application/x-ndjson", want: NDJSON},
		{name: "content type vcard", contentType: "text/x-vcard", want: VCard},
		{name: "extension vcf", file: "export.VCF", contentType: "application/octet-stream", want: VCard},
		{name: "extension jsonl", file: "a/b.jsonl", want: NDJSON},
		{name: "other text is csv", file: "upload", head: "email\na@b\n", want: CSV},
		{name: "nothing", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DetectFormat(tt.file, tt.contentType, []byte(tt.head))
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownFormat) {
					t.Fatalf("err = %v, want ErrUnknownFormat", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DetectFormat = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFormatMetadata(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{CSV, NDJSON, VCard} {
		if f.ContentType() == "application/octet-stream" || f.Extension() == "" {
			t.Errorf("%s: content type %q, extension %q", f, f.ContentType(), f.Extension())
		}
	}
}
