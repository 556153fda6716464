package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

type mergeOut struct {
	ID           uuid.UUID   `json:"id"`
	SurvivorID   uuid.UUID   `json:"survivorId"`
	MergedIDs    []uuid.UUID `json:"mergedIds"`
	Actor        string      `json:"actor"`
	ModelVersion *int        `json:"modelVersion"`
	Score        *float64    `json:"score"`
	CreatedAt    time.Time   `json:"createdAt"`
	UndoneAt     *time.Time  `json:"undoneAt"`
	UndoReport   []string    `json:"undoReport"`
}

type mergedContactOut struct {
	contactOut
	MergedInto *uuid.UUID `json:"mergedInto"`
}

func TestMergeAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "Ann", "email": "ann@example.com"})
	c := b.createContact(t, body{"firstName": "Anne", "title": "CEO", "email": "anne@example.com"})
	d := b.createContact(t, body{"firstName": "Annie"})

	rec := b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{a.ID, c.ID}, "fieldValues": body{"email": c.ID}}, as(b.writer))
	wantStatus(t, rec, http.StatusOK)
	out := decode[struct {
		Merge   mergeOut         `json:"merge"`
		Contact mergedContactOut `json:"contact"`
	}](t, rec)
	if out.Merge.SurvivorID != a.ID || out.Contact.ID != a.ID || deref(out.Contact.Email) != "anne@example.com" || deref(out.Contact.Title) != "CEO" {
		t.Fatalf("merge answer %+v", out)
	}
	if out.Merge.Actor == "" || len(out.Merge.MergedIDs) != 1 || out.Merge.MergedIDs[0] != c.ID {
		t.Errorf("merge %+v", out.Merge)
	}
	// A second merge makes a chain: C → A → D.
	rec = b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{a.ID}, "survivorId": d.ID})
	wantStatus(t, rec, http.StatusOK)
	second := decode[struct {
		Merge mergeOut `json:"merge"`
	}](t, rec).Merge
	for _, id := range []uuid.UUID{c.ID, a.ID} {
		rec := b.do(t, http.MethodGet, "/api/contacts/"+id.String(), nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		got := decode[mergedContactOut](t, rec)
		if got.Status != "merged" || got.MergedInto == nil || *got.MergedInto != d.ID {
			t.Errorf("GET %s: status %s mergedInto %v, want merged into %s", id, got.Status, got.MergedInto, d.ID)
		}
	}
	list := decode[page[contactOut]](t, b.do(t, http.MethodGet, "/api/contacts", nil))
	if len(list.Data) != 1 || list.Data[0].ID != d.ID {
		t.Errorf("list %+v, want only the survivor", list.Data)
	}
	merges := decode[page[mergeOut]](t, b.do(t, http.MethodGet, "/api/merges?limit=1", nil, as(b.reader)))
	if len(merges.Data) != 1 || merges.Data[0].ID != second.ID || merges.NextCursor == nil {
		t.Fatalf("first page %+v", merges)
	}
	merges = decode[page[mergeOut]](t, b.do(t, http.MethodGet, "/api/merges?limit=1&cursor="+*merges.NextCursor, nil))
	if len(merges.Data) != 1 || merges.Data[0].ID != out.Merge.ID || merges.NextCursor != nil {
		t.Fatalf("second page %+v", merges)
	}

	// The first merge cannot be undone while the second holds its survivor.
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/merges/"+out.Merge.ID.String()+"/undo", nil), http.StatusConflict)
	if p.Detail == "" {
		t.Error("409 without detail")
	}
	for _, id := range []uuid.UUID{second.ID, out.Merge.ID} {
		rec := b.do(t, http.MethodPost, "/api/merges/"+id.String()+"/undo", nil, as(b.writer))
		wantStatus(t, rec, http.StatusOK)
		undone := decode[struct {
			Merge       mergeOut `json:"merge"`
			NotRestored []string `json:"notRestored"`
		}](t, rec)
		if undone.Merge.UndoneAt == nil || len(undone.NotRestored) != 0 {
			t.Errorf("undo %s: %+v", id, undone)
		}
	}
	wantProblem(t, b.do(t, http.MethodPost, "/api/merges/"+second.ID.String()+"/undo", nil), http.StatusConflict)
	if got := b.getContact(t, a.ID); deref(got.Email) != "ann@example.com" || got.Title != nil || got.Status != "active" {
		t.Errorf("A after undo: %+v", got)
	}
	got := decode[mergeOut](t, b.do(t, http.MethodGet, "/api/merges/"+second.ID.String(), nil))
	if got.UndoneAt == nil {
		t.Error("GET merge does not show the undo")
	}
}

func TestMergeAPIErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "A"}).ID
	c := b.createContact(t, body{"firstName": "C"}).ID
	unknown := uuid.New()
	tests := []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"no contacts", body{}, http.StatusUnprocessableEntity, []string{"contactIds"}},
		{"one contact", body{"contactIds": []uuid.UUID{a}}, http.StatusUnprocessableEntity, []string{"contactIds"}},
		{"not ids", body{"contactIds": []any{"x", a, 5}}, http.StatusUnprocessableEntity, []string{"contactIds[0]", "contactIds[2]"}},
		{"unknown contact", body{"contactIds": []uuid.UUID{a, unknown}}, http.StatusUnprocessableEntity, []string{"contactIds[1]"}},
		{"unknown survivor", body{"contactIds": []uuid.UUID{a, c}, "survivorId": unknown}, http.StatusUnprocessableEntity, []string{"survivorId"}},
		{"bad field values", body{"contactIds": []uuid.UUID{a, c}, "fieldValues": body{"email": unknown, "nick": a}},
			http.StatusUnprocessableEntity, []string{"fieldValues.email", "fieldValues.nick"}},
		{"unknown field", body{"contactIds": []uuid.UUID{a, c}, "force": true}, http.StatusBadRequest, []string{"force"}},
		{"not an object", "[1]", http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/merge", tt.body), tt.status)
			if tt.fields != nil {
				wantFields(t, p, tt.fields...)
			}
		})
	}
	wantProblem(t, b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{a, c}}, as(b.reader)), http.StatusForbidden)
	wantProblem(t, b.do(t, http.MethodPost, "/api/merges/"+unknown.String()+"/undo", nil), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodGet, "/api/merges/nope", nil), http.StatusNotFound)
	wantProblem(t, b.do(t, http.MethodGet, "/api/merges?cursor=abc", nil), http.StatusUnprocessableEntity)
	if n := b.count(t, "merges", "true"); n != 0 {
		t.Errorf("%d merges stored by failed requests", n)
	}
}
