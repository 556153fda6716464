// Command apibench measures POST /api/contacts: requests/s and latency percentiles at N
// concurrent clients over loopback HTTP, then POST /api/contacts/batch upserting 500 contacts a
// request (new ones, then the same ones changed) in contacts/s, next to a plain pgx INSERT loop
// of the same rows at the same concurrency, and the time from create to normalized forms under light load. It starts the
// API and the workers in-process on a fresh database (DATABASE_URL's server, database
// contactd_apibench, dropped and recreated).
package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contactd/contactd/api"
	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/fakedata"
	"github.com/contactd/contactd/migrations"
	"github.com/contactd/contactd/worker"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	clients := flag.Int("c", 32, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "duration of each load phase")
	workers := flag.Bool("workers", true, "run the River workers in the process during the load (false: measure the request path alone)")
	flag.Parse()
	if err := run(context.Background(), *clients, *dur, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, clients int, dur time.Duration, withWorkers bool) error {
	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS contactd_apibench WITH (FORCE)`)
	if _, err := admin.Exec(ctx, `CREATE DATABASE contactd_apibench`); err != nil {
		return err
	}
	admin.Close(ctx)
	pc, err := pgxpool.ParseConfig(server)
	if err != nil {
		return err
	}
	pc.ConnConfig.Database = "contactd_apibench"
	pc.MaxConns = 40
	pc.AfterConnect = db.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}
	a, err := app.New(pool)
	if err != nil {
		return err
	}
	_, token, err := a.Auth.Create(ctx, "apibench", []auth.Scope{auth.ScopeAdmin})
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	wc, err := worker.NewClient(a, worker.Config{DefaultRegion: "US", MaxWorkers: 100, Logger: quiet})
	if err != nil {
		return err
	}
	startWorkers := func() error {
		if err := wc.Start(ctx); err != nil {
			return err
		}
		return nil
	}
	if withWorkers {
		if err := startWorkers(); err != nil {
			return err
		}
	}
	defer wc.Stop(context.Background()) //nolint:errcheck
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.NewRouter(api.Config{App: a, Logger: quiet})}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}

	fmt.Printf("POST /api/contacts, %d clients, %s, workers running: %v (API, workers and load generator share this machine's 2 cores)\n", clients, dur, withWorkers)
	var seq atomic.Int64
	body := func() []byte {
		p := personN(seq.Add(1))
		return fmt.Appendf(nil, `{"firstName":%q,"lastName":%q,"email":%q,"phone":%q,"title":"Buyer","company":%q}`, p.first, p.last, p.email, p.phone, p.company)
	}
	lat, errs := load(clients, dur, func() error {
		req, _ := http.NewRequest("POST", base+"/api/contacts", bytes.NewReader(body()))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	report("API  POST /api/contacts", lat, errs, dur)
	fmt.Printf("%-32s %7.0f contacts/s\n", "  = single creates", float64(len(lat))/dur.Seconds())

	// Batch upserts of 500 by email: new contacts, then the same contacts again with a change.
	drain(ctx, pool)
	batchClients := min(clients, 4)
	var sent [][]person
	var sentMu sync.Mutex
	batchBody := func(ps []person, title string) []byte {
		var b bytes.Buffer
		b.WriteString(`{"mode":"upsert","matchOn":"email","contacts":[`)
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"firstName":%q,"lastName":%q,"email":%q,"phone":%q,"title":%q,"company":%q}`, p.first, p.last, p.email, p.phone, title, p.company)
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	postBatch := func(body []byte) error {
		req, _ := http.NewRequest("POST", base+"/api/contacts/batch", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	fmt.Printf("POST /api/contacts/batch, upsert by email of %d contacts, %d clients, %s:\n", contact.MaxBatchItems, batchClients, dur)
	lat, errs = load(batchClients, dur, func() error {
		ps := make([]person, contact.MaxBatchItems)
		for i := range ps {
			ps[i] = personN(seq.Add(1))
		}
		sentMu.Lock()
		sent = append(sent, ps)
		sentMu.Unlock()
		return postBatch(batchBody(ps, "Buyer"))
	})
	report("API  batch of 500, all new", lat, errs, dur)
	fmt.Printf("%-32s %7.0f contacts/s\n", "  = batch creates", float64(len(lat)*contact.MaxBatchItems)/dur.Seconds())
	drain(ctx, pool)
	var next atomic.Int64
	lat, errs = load(batchClients, dur, func() error {
		i := int(next.Add(1)-1) % len(sent)
		return postBatch(batchBody(sent[i], fmt.Sprint("Lead ", next.Load())))
	})
	report("API  batch of 500, all updated", lat, errs, dur)
	fmt.Printf("%-32s %7.0f contacts/s\n", "  = batch updates", float64(len(lat)*contact.MaxBatchItems)/dur.Seconds())

	// Let the normalize backlog drain so that the INSERT loop runs on a quiet database.
	if !withWorkers {
		if err := startWorkers(); err != nil {
			return err
		}
	}
	drain(ctx, pool)
	lat, errs = load(clients, dur, func() error {
		n := seq.Add(1)
		p := personN(n)
		_, err := pool.Exec(ctx, `INSERT INTO contacts (id, first_name, last_name, email, phone, title, company)
			VALUES ($1, $2, $3, $4, $5, 'Buyer', $6)`, uuid.Must(uuid.NewV7()), p.first, p.last, p.email, p.phone, p.company)
		return err
	})
	report("pgx  INSERT loop (same rows)", lat, errs, dur)

	// Create to settled under light load: one create at a time, polled every millisecond, until
	// the normalized forms are written and then until its duplicate check has completed.
	drain(ctx, pool)
	var toNormalized, toSettled, added []time.Duration
	for i := range settleSamples {
		start := time.Now()
		// Every fifth contact duplicates an earlier one, so checks also merge.
		n := seq.Add(1)
		p := personN(n)
		if i%5 == 4 {
			// The previous person again: email in other case, phone written differently.
			p = personN(n - 1)
			p.email = strings.ToUpper(p.email[:1]) + p.email[1:]
			p.phone = "(" + strings.Replace(strings.TrimPrefix(p.phone, "+1 "), " ", ") ", 1)
		}
		c, err := a.Contacts.CreateContact(ctx, contact.NewContact{FirstName: p.first, LastName: p.last, Email: p.email, Phone: p.phone, Company: p.company, AllowDuplicate: true})
		if err != nil {
			return err
		}
		// Wait for the check to be recorded complete, then read the server's own timestamps:
		// River records a job's finish time when it finishes, but marks it completed in batches.
		var normalizedAt, settledAt time.Duration
		for {
			var done bool
			if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'dedupe_contact' AND args->>'contact_id' = $1 AND state = 'completed')`,
				c.ID.String()).Scan(&done); err != nil {
				return err
			}
			if done {
				break
			}
			if time.Since(start) > 30*time.Second {
				return fmt.Errorf("contact %s not settled after 30s", c.ID)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := pool.QueryRow(ctx, `SELECT extract(epoch FROM c.normalized_at - c.created_at), extract(epoch FROM j.finalized_at - c.created_at)
			FROM contacts c, river_job j WHERE c.id = $1 AND j.kind = 'dedupe_contact' AND j.args->>'contact_id' = $2 AND j.state = 'completed'
			ORDER BY j.id DESC LIMIT 1`, c.ID, c.ID.String()).Scan(secs(&normalizedAt), secs(&settledAt)); err != nil {
			return err
		}
		toNormalized, toSettled, added = append(toNormalized, normalizedAt), append(toSettled, settledAt), append(added, settledAt-normalizedAt)
		time.Sleep(20 * time.Millisecond)
	}
	pct := func(name string, d []time.Duration) {
		slices.Sort(d)
		fmt.Printf("%-44s p50 %6.1fms  p99 %6.1fms  max %6.1fms\n", name, ms(d[len(d)/2]), ms(d[len(d)*99/100]), ms(d[len(d)-1]))
	}
	fmt.Printf("light load, %d creates one at a time (every fifth a duplicate that gets merged):\n", settleSamples)
	pct("create → normalized", toNormalized)
	pct("create → settled (duplicate check done)", toSettled)
	pct("added by the duplicate check", added)
	return nil
}

func drain(ctx context.Context, pool *pgxpool.Pool) {
	for range 600 {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable')`).Scan(&n)
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func load(clients int, dur time.Duration, op func() error) ([]time.Duration, int) {
	var mu sync.Mutex
	var all []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				if err := op(); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	return all, int(errs.Load())
}

func report(name string, lat []time.Duration, errs int, dur time.Duration) {
	if len(lat) == 0 {
		fmt.Printf("%-32s no successful requests (%d errors)\n", name, errs)
		return
	}
	pct := func(p int) time.Duration { return lat[min(len(lat)-1, len(lat)*p/100)] }
	fmt.Printf("%-32s %7.0f req/s  p50 %6.2fms  p99 %6.2fms  (%d ok, %d errors)\n", name,
		float64(len(lat))/dur.Seconds(), ms(pct(50)), ms(pct(99)), len(lat), errs)
}

// secs scans a number of seconds into a duration.
func secs(d *time.Duration) *durationScanner { return &durationScanner{d} }

type durationScanner struct{ d *time.Duration }

func (s *durationScanner) Scan(src any) error {
	var f float64
	switch v := src.(type) {
	case float64:
		f = v
	case string:
		if _, err := fmt.Sscan(v, &f); err != nil {
			return err
		}
	default:
		var n pgtype.Numeric
		if err := n.Scan(src); err != nil {
			return fmt.Errorf("duration: %T", src)
		}
		fv, err := n.Float64Value()
		if err != nil {
			return err
		}
		f = fv.Float64
	}
	*s.d = time.Duration(f * float64(time.Second))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settleSamples is how many creates the light-load phase times.
const settleSamples = 200

// person is a generated contact.
type person struct{ first, last, email, phone, company string }

// personN is the n-th generated person: a realistic name (so that the matcher sees different
// people as different, as it would in a CRM), an email and phone of their own, and one of 500
// companies.
func personN(n int64) person {
	r := rand.New(rand.NewPCG(uint64(n), 0x5eed))
	first := fakedata.FirstNames[r.IntN(len(fakedata.FirstNames))]
	last := fakedata.LastNames[r.IntN(len(fakedata.LastNames))]
	up := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
	return person{
		first: up(first), last: up(last),
		email:   fmt.Sprintf("%s.%s.%d@example.com", first, last, n),
		phone:   fmt.Sprintf("+1 415 %03d %04d", 200+(n/10000)%700, n%10000),
		company: fmt.Sprintf("Acme %d", n%500),
	}
}
