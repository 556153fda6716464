package httpsource

import (
	"encoding/json"
	"testing"
)

// FuzzParse: no response body makes a page's parse panic; a body that parses gives records
// whose values are the mapped fields only, and a checkpoint that is JSON and parses back.
func FuzzParse(f *testing.F) {
	c := &Connector{cfg: &Config{ItemsPath: "items", IDPath: "id", UpdatedPath: "updated", DeletedPath: "deleted",
		NextCursorPath: "next", PageSize: 2,
		FieldMapping: map[string]string{"email": "emails.0.value", "firstName": "name.first", "tags": "tags"}}}
	f.Add([]byte(`{"items":[{"id":1,"updated":"2026-01-01T00:00:00Z","emails":[{"value":"a@b.c"}],"name":{"first":"Ada"}}],"next":"c2"}`),
		[]byte(`{}`))
	f.Add([]byte(`{"items":[{"id":"x","deleted":true,"tags":["a","b"]},{"id":null}]}`), []byte(`{"since":"2026-01-01"}`))
	f.Add([]byte(`[]`), []byte(`{"cursor":"abc","high":"z"}`))
	f.Add([]byte(`{"items":{"id":1}}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, body, rawCP []byte) {
		var cp checkpoint
		_ = json.Unmarshal(rawCP, &cp)
		page, err := c.parse(body, cp)
		if err != nil {
			return
		}
		for _, r := range page.Records {
			for field := range r.Values {
				if _, ok := c.cfg.FieldMapping[field]; !ok {
					t.Errorf("record %q has the unmapped field %q", r.RemoteID, field)
				}
			}
		}
		var back checkpoint
		if err := json.Unmarshal(page.Checkpoint, &back); err != nil {
			t.Errorf("checkpoint %s: %v", page.Checkpoint, err)
		}
	})
}
