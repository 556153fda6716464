package source_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
)

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

const httpConfig = `{"url": "https://api.example.com/people", "token": "tok-123", "headers": {"X-Api-Key": "key-456"},
	"itemsPath": "data", "idPath": "id", "fieldMapping": {"email": "emails.0.value"}}`

func TestSecretsAreSealedAndNeverShown(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	sealer, err := source.ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	b.App.Sources.SetSealer(sealer)
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "crm", Config: json.RawMessage(httpConfig), Schedule: "15m"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src.Config), "tok-123") || strings.Contains(string(src.Config), "key-456") {
		t.Fatalf("config shows a secret: %s", src.Config)
	}
	if got := strings.Join(src.SecretNames, ","); got != "headers.X-Api-Key,token" {
		t.Fatalf("secret names %q", got)
	}
	var cfg, sealed []byte
	if err := b.Pool.QueryRow(b.Ctx, `SELECT config::text, secrets FROM sync_sources WHERE id = $1`, src.ID).Scan(&cfg, &sealed); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tok-123", "key-456"} {
		if bytes.Contains(cfg, []byte(secret)) || bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("the row holds %s in clear", secret)
		}
	}
	// An update that does not name the secrets keeps them.
	name := "renamed"
	if _, err := b.App.Sources.Update(b.Ctx, src.ID, source.Patch{Name: &name,
		Config: json.RawMessage(`{"url": "https://api.example.com/v2", "idPath": "id", "fieldMapping": {"email": "email"}}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := b.App.Sources.Get(b.Ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := b.App.Sources.Secrets(got)
	if err != nil {
		t.Fatal(err)
	}
	if secrets["token"] != "tok-123" || secrets["headers.X-Api-Key"] != "key-456" {
		t.Fatalf("secrets after update: %v", secrets)
	}
	// Another key cannot open them.
	other, _ := source.ParseKey("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
	b.App.Sources.SetSealer(other)
	if _, err := b.App.Sources.Secrets(got); err == nil {
		t.Fatal("secrets opened with another key")
	}
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	b := apptest.New(t) // no key
	for _, tc := range []struct {
		name   string
		in     source.NewSource
		fields []string
	}{
		{"carddav", source.NewSource{Type: "carddav", Name: "x", Config: json.RawMessage(`{"url": "dav.example", "shoeSize": 1}`)}, []string{"config"}},
		{"type", source.NewSource{Type: "ldap", Name: "x", Config: json.RawMessage(`{}`)}, []string{"type"}},
		{"secret without key", source.NewSource{Type: "http", Name: "x", Config: json.RawMessage(httpConfig)},
			[]string{"config.headers.X-Api-Key", "config.token"}},
		{"push", source.NewSource{Type: "http", Name: "x", Direction: "push",
			Config: json.RawMessage(`{"url": "https://a.example", "idPath": "id", "fieldMapping": {"email": "e"}}`)}, []string{"direction"}},
		{"everything", source.NewSource{Type: "http", ConflictPolicy: "mine", Schedule: "often",
			Config: json.RawMessage(`{"url": "ftp://x", "fieldMapping": {"shoeSize": "s"}}`)},
			[]string{"name", "conflictPolicy", "schedule", "config.url", "config.idPath", "config.fieldMapping.shoeSize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.App.Sources.Create(b.Ctx, tc.in)
			de := apptest.RequireKind(t, err, db.KindInvalid)
			var got []string
			for _, f := range de.Fields {
				got = append(got, f.Field)
			}
			for _, want := range tc.fields {
				if !strings.Contains(strings.Join(got, " "), want) {
					t.Fatalf("errors %v do not name %s", de.Fields, want)
				}
			}
		})
	}
	if n := b.Count(t, `SELECT count(*) FROM sync_sources`); n != 0 {
		t.Fatalf("%d sources stored", n)
	}
}

func TestOneRunPerSource(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	src, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "crm",
		Config: json.RawMessage(`{"url": "https://a.example", "idPath": "id", "fieldMapping": {"email": "e"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	first, started, err := b.App.Sources.StartRun(b.Ctx, src.ID, false)
	if err != nil || !started {
		t.Fatalf("first run: %v %v", started, err)
	}
	again, started, err := b.App.Sources.StartRun(b.Ctx, src.ID, true)
	if err != nil || started || again.ID != first.ID {
		t.Fatalf("second start: started %v, run %s (first %s), %v", started, again.ID, first.ID, err)
	}
	if n := b.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'sync_run'`); n != 1 {
		t.Fatalf("%d run jobs, want 1", n)
	}
}

func TestEnqueueDue(t *testing.T) {
	t.Parallel()
	b := apptest.New(t)
	cfg := json.RawMessage(`{"url": "https://a.example", "idPath": "id", "fieldMapping": {"email": "e"}}`)
	due, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "due", Config: cfg, Schedule: "15m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Sources.Create(b.Ctx, source.NewSource{Type: "http", Name: "manual", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.App.Sources.EnqueueDue(b.Ctx); err != nil || n != 0 {
		t.Fatalf("nothing due yet: %d runs, %v", n, err)
	}
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE sync_sources SET next_due_at = now() - interval '1 minute' WHERE id = $1`, due.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := b.App.Sources.EnqueueDue(b.Ctx); err != nil || n != 1 {
		t.Fatalf("one due: %d runs, %v", n, err)
	}
	if n, err := b.App.Sources.EnqueueDue(b.Ctx); err != nil || n != 0 {
		t.Fatalf("due again at once: %d runs, %v", n, err)
	}
	if n := b.Count(t, `SELECT count(*) FROM sync_runs WHERE source_id = $1 AND status = 'queued'`, due.ID); n != 1 {
		t.Fatalf("%d queued runs, want 1", n)
	}
}
