// Command carddavbench measures contactd's CardDAV pull next to vdirsyncer's on the same
// Radicale book (make bench-carddav): it builds a book of -n cards by writing the .vcf files
// straight into Radicale's storage folder, counts every request through a proxy, and prints
// seconds and requests side by side for an initial sync, a run with nothing changed, a run
// after 1% of the cards changed remotely and, for contactd (a two-way source), a run after 1%
// changed on each side: 1% remotely and 1% other contacts edited in contactd, which the run
// pushes with If-Match. Then, as the floor of that push, Radicale alone taking the same number
// of PUTs from a plain client, one at a time and 8 at a time.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/app"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/fakedata"
	"github.com/contactd/contactd/internal/runs"
	"github.com/contactd/contactd/migrations"
	"github.com/contactd/contactd/sync/carddav"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	n := flag.Int("n", 10000, "cards in the book")
	skipVdir := flag.Bool("no-vdirsyncer", false, "measure contactd only")
	flag.StringVar(&dbName, "db", "contactd_carddavbench", "the database to (re)create for the run")
	flag.Parse()
	if err := run(context.Background(), *n, !*skipVdir); err != nil {
		fmt.Fprintln(os.Stderr, "carddavbench:", err)
		os.Exit(1)
	}
}

// dbName is the database the run drops and creates.
var dbName string

type result struct {
	name     string
	seconds  float64
	requests int64
	note     string
}

func run(ctx context.Context, n int, vdir bool) error {
	dir, err := os.MkdirTemp("", "carddavbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	book := filepath.Join(dir, "storage", "collection-root", "bench", "book")
	if err := os.MkdirAll(book, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(book, ".Radicale.props"), []byte(`{"tag": "VADDRESSBOOK"}`), 0o644); err != nil {
		return err
	}
	for i := range n {
		if err := writeCard(book, i, 0); err != nil {
			return err
		}
	}
	radicale, stop, err := startRadicale(dir)
	if err != nil {
		return err
	}
	defer stop()
	var requests atomic.Int64
	target, _ := url.Parse(radicale)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	bookURL := srv.URL + "/bench/book/"

	// Radicale indexes the files it was given on the first listing: done once, not measured.
	t0 := time.Now()
	if err := warm(radicale + "/bench/book/"); err != nil {
		return err
	}
	fmt.Printf("book of %d cards built; Radicale's first listing (indexing) took %.1fs\n", n, time.Since(t0).Seconds())

	var out []result
	measure := func(name string, f func() (string, error)) error {
		requests.Store(0)
		start := time.Now()
		note, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, result{name, time.Since(start).Seconds(), requests.Load(), note})
		fmt.Printf("  %-40s %7.1fs %7d requests  %s\n", name, out[len(out)-1].seconds, out[len(out)-1].requests, note)
		return nil
	}
	changed := 0
	// remote are the cards a change writes remotely (its version v).
	remote := func(v int) []int {
		cards := make([]int, max(n/100, 1))
		for i := range cards {
			cards[i] = (i*97 + v*13) % n
		}
		return cards
	}
	changeCards := func() ([]int, error) {
		changed++
		cards := remote(changed)
		for _, i := range cards {
			if err := writeCard(book, i, changed); err != nil {
				return nil, err
			}
		}
		return cards, warm(radicale + "/bench/book/")
	}
	change := func() error { _, err := changeCards(); return err }

	a, pool, err := database(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Two-way: a run pulls, then pushes the linked contacts edited here since their last sync.
	src, err := a.Sources.Create(ctx, source.NewSource{Type: "carddav", Name: "bench", Direction: string(source.Both),
		Config: []byte(fmt.Sprintf(`{"url": %q, "username": "bench"}`, bookURL))})
	if err != nil {
		return err
	}
	syncOnce := func() (string, error) {
		run, _, err := a.Sources.StartRun(ctx, src.ID, false)
		if err != nil {
			return "", err
		}
		r, err := a.Sync.Run(ctx, run.ID, nil)
		if err != nil {
			return "", err
		}
		if r.Status != runs.Succeeded {
			return "", fmt.Errorf("run %s: %v", r.Status, r.Stats.Errors)
		}
		st := r.Stats
		return fmt.Sprintf("pulled %d created %d updated %d linked %d deleted %d pushed %d conflicts %d errors %d",
			st.Pulled, st.Created, st.Updated, st.Linked, st.Deleted, st.Pushed, st.Conflicts, len(st.Errors)), nil
	}
	fmt.Println("contactd's connector alone (sync-collection + addressbook-multiget, cards mapped, no database):")
	if err := measure("connector initial pull", func() (string, error) {
		conn, err := carddav.New(&source.Source{Config: []byte(fmt.Sprintf(`{"url": %q, "username": "bench"}`, bookURL))}, nil)
		if err != nil {
			return "", err
		}
		var cp []byte
		cards := 0
		for {
			page, err := conn.Changes(ctx, cp)
			if err != nil {
				return "", err
			}
			cards += len(page.Records)
			cp = page.Checkpoint
			if !page.More {
				return fmt.Sprintf("%d cards", cards), nil
			}
		}
	}); err != nil {
		return err
	}
	fmt.Println("contactd (sync-collection + addressbook-multiget, into PostgreSQL):")
	if err := measure("contactd initial", syncOnce); err != nil {
		return err
	}
	if err := measure("contactd nothing changed", syncOnce); err != nil {
		return err
	}
	if err := change(); err != nil {
		return err
	}
	if err := measure("contactd after 1% changed", syncOnce); err != nil {
		return err
	}
	if err := bothSides(ctx, a, pool, src.ID, book, srv.URL, changeCards, measure, syncOnce); err != nil {
		return err
	}
	if err := radicaleFloor(book, bookURL, measure); err != nil {
		return err
	}
	var contacts int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&contacts)
	fmt.Printf("  contacts in the database: %d\n", contacts)

	if vdir {
		fmt.Println("vdirsyncer 0.19 (two-way with a local folder):")
		cfg, err := vdirsyncerConfig(dir, bookURL)
		if err != nil {
			return err
		}
		vs := func(args ...string) error {
			cmd := exec.Command("vdirsyncer", append([]string{"-c", cfg}, args...)...)
			cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 10))
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("vdirsyncer %v: %w\n%s", args, err, b)
			}
			return nil
		}
		// vdirsyncer gives up on a request after aiohttp's 5 minutes, which Radicale's listing
		// of a big book can take on a loaded machine: its failure is printed, not fatal.
		err = vs("discover")
		if err == nil {
			err = measure("vdirsyncer initial", func() (string, error) { return "", vs("sync") })
		}
		if err == nil {
			err = measure("vdirsyncer nothing changed", func() (string, error) { return "", vs("sync") })
		}
		if err == nil {
			if err = change(); err == nil {
				err = measure("vdirsyncer after 1% changed", func() (string, error) { return "", vs("sync") })
			}
		}
		if err != nil {
			fmt.Printf("  vdirsyncer failed: %v\n", err)
		}
	}
	fmt.Printf("\n%-40s %9s %9s\n", "", "seconds", "requests")
	for _, r := range out {
		fmt.Printf("%-40s %9.1f %9d\n", r.name, r.seconds, r.requests)
	}
	return nil
}

// bothSides changes 1% of the cards remotely and edits 1% other linked contacts through
// contactd's store (audited, updated_at bumped, as an API edit would), times one run, and checks
// that the run pushed the local edits (on the server) and pulled the remote ones (into the
// database).
func bothSides(ctx context.Context, a *app.App, pool *pgxpool.Pool, sourceID uuid.UUID, book, server string,
	change func() ([]int, error), measure func(string, func() (string, error)) error, syncOnce func() (string, error)) error {
	links, err := linkedCards(ctx, pool, sourceID)
	if err != nil {
		return err
	}
	theirs, err := change()
	if err != nil {
		return err
	}
	remote := map[int]bool{}
	for _, i := range theirs {
		remote[i] = true
	}
	const edit = "Title edited here"
	var ours []int
	for i := 0; len(ours) < len(theirs) && i < len(links); i++ {
		if remote[i] {
			continue
		}
		id, ok := links[i]
		if !ok {
			return fmt.Errorf("card %d has no linked contact", i)
		}
		if _, err := a.Contacts.UpdateContact(ctx, id, contact.Update{Title: contact.Some(fmt.Sprintf("%s %d", edit, i))}); err != nil {
			return fmt.Errorf("edit the contact of card %d: %w", i, err)
		}
		ours = append(ours, i)
	}
	pushed := ""
	if err := measure("contactd after 1% changed on each side", func() (string, error) {
		note, err := syncOnce()
		pushed = note
		return note, err
	}); err != nil {
		return err
	}
	if !strings.Contains(pushed, fmt.Sprintf(" pushed %d ", len(ours))) {
		return fmt.Errorf("each side: %d contacts edited here, the run says %s", len(ours), pushed)
	}
	// On the server: every edited card in Radicale's storage, and one of them through HTTP.
	for _, i := range ours {
		b, err := os.ReadFile(filepath.Join(book, fmt.Sprintf("bench-%d.vcf", i)))
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), fmt.Sprintf("TITLE:%s %d\r\n", edit, i)) {
			return fmt.Errorf("each side: card %d on the server lacks the edit made here:\n%s", i, b)
		}
	}
	sample := ours[len(ours)/2]
	resp, err := http.Get(fmt.Sprintf("%s/bench/book/bench-%d.vcf", server, sample))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf("TITLE:%s %d\r\n", edit, sample)) {
		return fmt.Errorf("each side: GET card %d: %s\n%s", sample, resp.Status, b)
	}
	// In the database: every remote change (TITLE:Title v<version>) on its contact, and the
	// local edits kept.
	ids := make([]uuid.UUID, 0, len(theirs)+len(ours))
	for _, i := range append(append([]int{}, theirs...), ours...) {
		ids = append(ids, links[i])
	}
	cs, err := a.Contacts.GetContacts(ctx, ids)
	if err != nil {
		return err
	}
	byID := map[uuid.UUID]*contact.Contact{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	title := func(i int) string {
		if c := byID[links[i]]; c != nil && c.Title != nil {
			return *c.Title
		}
		return ""
	}
	for _, i := range theirs {
		if want := fmt.Sprintf("Title v%d", remoteVersion(book, i)); title(i) != want || want == "Title v0" {
			return fmt.Errorf("each side: contact of card %d has title %q, the server %q", i, title(i), want)
		}
	}
	for _, i := range ours {
		if want := fmt.Sprintf("%s %d", edit, i); title(i) != want {
			return fmt.Errorf("each side: contact of card %d has title %q after the run, edited to %q", i, title(i), want)
		}
	}
	fmt.Printf("  checked: %d edits made here on the server (card %d fetched), %d remote edits in the database\n", len(ours), sample, len(theirs))
	return nil
}

var cardHref = regexp.MustCompile(`/bench-(\d+)\.vcf$`)

// linkedCards maps each card of the book to the contact its link names.
func linkedCards(ctx context.Context, pool *pgxpool.Pool, sourceID uuid.UUID) (map[int]uuid.UUID, error) {
	rows, err := pool.Query(ctx, `SELECT remote_id, contact_id FROM sync_links WHERE source_id = $1 AND NOT deleted`, sourceID)
	if err != nil {
		return nil, err
	}
	links := map[int]uuid.UUID{}
	var href string
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&href, &id}, func() error {
		m := cardHref.FindStringSubmatch(href)
		if m == nil {
			return fmt.Errorf("link %q is no card of the book", href)
		}
		i, _ := strconv.Atoi(m[1])
		links[i] = id
		return nil
	})
	return links, err
}

// remoteVersion is the version of card i in Radicale's storage (its NOTE), 0 if unreadable.
func remoteVersion(book string, i int) int {
	b, err := os.ReadFile(filepath.Join(book, fmt.Sprintf("bench-%d.vcf", i)))
	if err != nil {
		return 0
	}
	var card, v int
	for _, line := range strings.Split(string(b), "\r\n") {
		if _, err := fmt.Sscanf(line, "NOTE:card %d version %d", &card, &v); err == nil {
			return v
		}
	}
	return 0
}

// writeCard writes card i of the book, in its version v.
func writeCard(book string, i, v int) error {
	first := fakedata.FirstNames[(i*7)%len(fakedata.FirstNames)]
	last := fakedata.LastNames[(i*31)%len(fakedata.LastNames)]
	card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-%d\r\nN:%s;%s;;;\r\nFN:%s %s\r\nEMAIL;TYPE=work:%s.%s.%d@example.com\r\n"+
		"TEL;TYPE=cell:+1 555 %07d\r\nORG:Company %d\r\nTITLE:Title v%d\r\nNOTE:card %d version %d\r\nEND:VCARD\r\n",
		i, last, first, first, last, first, last, i, i, i%500, v, i, v)
	return os.WriteFile(filepath.Join(book, fmt.Sprintf("bench-%d.vcf", i)), []byte(card), 0o644)
}

func startRadicale(dir string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	log, _ := os.Create(filepath.Join(dir, "radicale.log"))
	cmd := exec.Command("/usr/bin/python3", "-m", "radicale", "--storage-filesystem-folder", filepath.Join(dir, "storage"),
		"--server-hosts", fmt.Sprintf("127.0.0.1:%d", port), "--auth-type", "none", "--logging-level", "warning")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start Radicale (apt-get install python3-radicale): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for range 200 {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			return base, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("radicale did not start")
}

// warm asks Radicale for the book's sync state, which makes it index changed files.
func warm(book string) error {
	req, _ := http.NewRequest("REPORT", book, strings.NewReader(`<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`))
	req.SetBasicAuth("bench", "")
	req.Header.Set("Content-Type", "application/xml")
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return fmt.Errorf("warm-up REPORT: %s", resp.Status)
	}
	return nil
}

func vdirsyncerConfig(dir, book string) (string, error) {
	local := filepath.Join(dir, "vdir")
	if err := os.MkdirAll(local, 0o755); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`[general]
status_path = "%s/vdir-status"

[pair bench]
a = "bench_remote"
b = "bench_local"
collections = null
conflict_resolution = "a wins"

[storage bench_remote]
type = "carddav"
url = "%s"
username = "bench"
password = "x"

[storage bench_local]
type = "filesystem"
path = "%s"
fileext = ".vcf"
`, dir, book, local)
	p := filepath.Join(dir, "vdirsyncer.conf")
	return p, os.WriteFile(p, []byte(cfg), 0o644)
}

// database makes a fresh, migrated database for the run.
func database(ctx context.Context) (*app.App, *pgxpool.Pool, error) {
	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return nil, nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{dbName}.Sanitize()+` WITH (FORCE)`)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{dbName}.Sanitize()); err != nil {
		return nil, nil, err
	}
	admin.Close(ctx)
	pc, err := pgxpool.ParseConfig(server)
	if err != nil {
		return nil, nil, err
	}
	pc.ConnConfig.Database = dbName
	pc.AfterConnect = db.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, nil, err
	}
	if err := migrations.Up(ctx, pool); err != nil {
		return nil, nil, err
	}
	a, err := app.New(pool)
	if err != nil {
		return nil, nil, err
	}
	return a, pool, nil
}

// radicaleFloor measures what 1% of the book's PUTs cost Radicale alone: a plain HTTP client
// (no contactd) rewrites 1% of the cards with If-Match, one at a time and then 8 at a time, so
// that a two-way run's push can be compared with the server's own cost per write. The cards'
// etags are read first, outside the measurement.
func radicaleFloor(dir, book string, measure func(string, func() (string, error)) error) error {
	n := 0
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".vcf") {
				n++
			}
		}
	}
	for round, writers := range []int{1, 8} {
		cards := make([]int, max(n/100, 1))
		etags := make([]string, len(cards))
		for k := range cards {
			cards[k] = (k*89 + 5000 + round) % n
			resp, err := http.Get(fmt.Sprintf("%sbench-%d.vcf", book, cards[k]))
			if err != nil {
				return err
			}
			resp.Body.Close()
			etags[k] = resp.Header.Get("ETag")
		}
		put := func(k int) error {
			i := cards[k]
			first := fakedata.FirstNames[(i*7)%len(fakedata.FirstNames)]
			body := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-%d\r\nFN:%s floor %d\r\nEND:VCARD\r\n", i, first, round)
			req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%sbench-%d.vcf", book, i), strings.NewReader(body))
			req.Header.Set("If-Match", etags[k])
			req.Header.Set("Content-Type", "text/vcard")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("PUT card %d: %s", i, resp.Status)
			}
			return nil
		}
		name := fmt.Sprintf("Radicale alone: 1%% PUT, %d at a time", writers)
		if err := measure(name, func() (string, error) {
			next := make(chan int)
			errs := make(chan error, len(cards))
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for k := range next {
						errs <- put(k)
					}
				})
			}
			for k := range cards {
				next <- k
			}
			close(next)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("%d PUTs with If-Match, no contactd", len(cards)), nil
		}); err != nil {
			return err
		}
	}
	return nil
}
