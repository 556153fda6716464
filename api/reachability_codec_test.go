package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/contactd/contactd/consent"
	"github.com/google/uuid"
)

// reachabilityFixture is a bulk ask of 10,000 ids and its answers, one in ten with a time.
func reachabilityFixture() ([]byte, []consent.Answer) {
	ids := make([]uuid.UUID, consent.MaxReachabilityIDs)
	as := make([]consent.Answer, len(ids))
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	for i := range ids {
		ids[i] = uuid.New()
		as[i] = consent.Answer{ContactID: ids[i], Allowed: i%2 == 0, Reason: consent.ReasonConsent}
		if i%10 == 0 {
			as[i].Allowed, as[i].Reason, as[i].NextAllowedAt = false, consent.ReasonQuietHours, &at
		}
	}
	body, _ := json.Marshal(map[string]any{"contactIds": ids, "channel": "email", "purpose": "marketing"})
	return body, as
}

// TestAppendAnswers: the hand-written answer is the document encoding/json writes of answerJSON.
func TestAppendAnswers(t *testing.T) {
	_, as := reachabilityFixture()
	out := make([]answerJSON, len(as))
	for i, a := range as {
		out[i] = toAnswerJSON(a)
	}
	want, err := json.Marshal(map[string]any{"results": out})
	if err != nil {
		t.Fatal(err)
	}
	if got := appendAnswers(nil, as); string(got) != string(want)+"\n" {
		t.Errorf("appendAnswers differs from encoding/json:\n%.300s\n%.300s", got, want)
	}
}

// TestParseIDArray: plain id arrays parse as encoding/json would; anything else is left to it.
func TestParseIDArray(t *testing.T) {
	a, c := uuid.New(), uuid.New()
	for _, tt := range []struct {
		in   string
		want []uuid.UUID
		ok   bool
	}{
		{`["` + a.String() + `", "` + c.String() + `"]`, []uuid.UUID{a, c}, true},
		{" [ \n\"" + a.String() + "\" ] ", []uuid.UUID{a}, true},
		{`[]`, []uuid.UUID{}, true},
		{`["` + a.String() + `",]`, nil, false},
		{`["` + a.String() + `" "` + c.String() + `"]`, nil, false},
		{`["x"]`, nil, false},
		{`[5]`, nil, false},
		{`["\u0030` + a.String()[1:] + `"]`, nil, false},
		{`"` + a.String() + `"`, nil, false},
		{`null`, nil, false},
	} {
		got, ok := parseIDArray([]byte(tt.in))
		if ok != tt.ok || (ok && (len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 1 && got[1] != tt.want[1]))) {
			t.Errorf("parseIDArray(%s) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// BenchmarkBulkReachabilityCodec measures what the bulk route spends on 10,000 ids besides the
// store call: splitting the body into fields, reading the ids and writing the answers, the way
// it did (encoding/json; ids as strings, then parsed) and the way it does.
func BenchmarkBulkReachabilityCodec(b *testing.B) {
	body, as := reachabilityFixture()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		b.Fatal(err)
	}
	b.Run("split=encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("split=splitObject", func(b *testing.B) {
		for b.Loop() {
			if _, ok := splitObject(body); !ok {
				b.Fatal("not split")
			}
		}
	})
	b.Run("decode=strings+parse", func(b *testing.B) {
		for b.Loop() {
			var ss []string
			if err := json.Unmarshal(m["contactIds"], &ss); err != nil {
				b.Fatal(err)
			}
			ids := make([]uuid.UUID, 0, len(ss))
			for _, s := range ss {
				id, err := uuid.Parse(s)
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, id)
			}
			if len(ids) != len(as) {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("decode=uuids", func(b *testing.B) {
		for b.Loop() {
			var ids []uuid.UUID
			if err := json.Unmarshal(m["contactIds"], &ids); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode=parseIDArray", func(b *testing.B) {
		for b.Loop() {
			if ids, ok := parseIDArray(m["contactIds"]); !ok || len(ids) != len(as) {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("encode=encoding/json", func(b *testing.B) {
		for b.Loop() {
			out := make([]answerJSON, len(as))
			for i, a := range as {
				out[i] = toAnswerJSON(a)
			}
			if _, err := json.Marshal(map[string]any{"results": out}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode=append", func(b *testing.B) {
		for b.Loop() {
			_ = appendAnswers(make([]byte, 0, 80*len(as)), as)
		}
	})
}

// FuzzSplitObject: whatever splitObject splits, encoding/json splits the same way.
func FuzzSplitObject(f *testing.F) {
	body, _ := reachabilityFixture()
	f.Add(body[:2000])
	for _, s := range []string{`{}`, ` {"a": "b", "c": ["d", "e"] } `, `{"a": null, "b": true, "c": false, "d": []}`,
		`{"a": "x", "a": "y"}`, `{"a": "\u00e9"}`, "{\"\xff\": \"x\"}", `{"a": "x"} x`, `{"a": 1}`, `{"a": ["x",]}`,
		`{"a": nulls}`, `[]`, `null`, `{"a": "b",}`, "{\"a\":\t\"b\"\r\n}", `{"é": ["\u00e9"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := splitObject(data)
		if !ok {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("splitObject(%q) split what encoding/json rejects: %v", data, err)
		}
		if len(got) != len(want) {
			t.Fatalf("splitObject(%q) = %q, encoding/json %q", data, got, want)
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Fatalf("splitObject(%q)[%q] = %q, encoding/json %q", data, k, got[k], v)
			}
		}
	})
}
