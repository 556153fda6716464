package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// BenchmarkCreateContact measures POST /api/contacts through the router and a real database,
// in-process, from parallel clients (-cpu sets how many). Each contact has an email and a phone,
// so each create also checks for a duplicate, writes the audit entry and enqueues normalization.
func BenchmarkCreateContact(b *testing.B) {
	tb := setup(b)
	account := tb.createAccount(b, "Bench")
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			in := fmt.Appendf(nil, `{"firstName": "Bench", "lastName": "Contact %d", "email": "bench%d@example.com",
				"phone": "+1 415 555 %04d", "company": "Bench Inc",
				"relationships": [{"type": "account", "entityId": %q, "role": "user"}]}`, n, n, n%10000, account)
			req := httptest.NewRequest(http.MethodPost, "/api/contacts", bytes.NewReader(in))
			req.Header.Set("Authorization", "Bearer "+tb.writer)
			rec := httptest.NewRecorder()
			tb.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
}
