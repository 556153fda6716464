// Command importbench measures bulk import and export against a bare COPY: it writes an N-row
// CRM-like CSV, COPYs it into an unindexed table, imports it with the real `contactd import`
// (normalized, externally referenced, indexed) and exports it with `contactd export`, then
// prints the times, rates, the import/COPY ratio and each process's peak memory.
package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	firstNames = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Zoë", "José", "Łukasz", "Mei", "Aarav", "Fatima"}
	lastNames  = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Müller", "Schmidt", "Nguyen", "Kim", "O'Brien", "Dubois"}
	titles     = []string{"CEO", "CTO", "VP Sales", "Account Executive", "Buyer", "Procurement Manager", "Engineer", "Office Manager", ""}
	companies  = []string{"Acme Inc", "Globex LLC", "Initech", "Umbrella Corp", "Soylent GmbH", "Wayne Enterprises", "Stark Industries", "Hooli", "Vandelay Industries", ""}
	domains    = []string{"gmail.com", "yahoo.com", "outlook.com", "example.com", "acme.com", "globex.io"}
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows to generate")
	dir := flag.String("dir", os.TempDir(), "where to write the CSV")
	bin := flag.String("bin", "bin/contactd", "the contactd binary")
	prefix := flag.String("db", "contactd_", "prefix of the databases it (re)creates, so that runs on a shared server do not collide")
	flag.Parse()
	if err := run(context.Background(), *rows, *dir, *bin, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "importbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rows int, dir, bin, prefix string) error {
	file := filepath.Join(dir, fmt.Sprintf("contacts-%d.csv", rows))
	if err := generate(file, rows); err != nil {
		return err
	}
	st, _ := os.Stat(file)
	fmt.Printf("file: %s, %d rows, %.1f MiB\n", file, rows, float64(st.Size())/(1<<20))

	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	copyDB, importDB, floorDB := prefix+"copybench", prefix+"importbench", prefix+"floorbench"
	for _, db := range []string{copyDB, importDB, floorDB} {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return err
		}
	}
	admin.Close(ctx)
	cfg, _ := pgx.ParseConfig(server)

	// 1. A bare COPY of the same file into an unindexed table.
	cfg.Database = copyDB
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE raw (external_id text, first_name text, last_name text, email text, phone text, title text, company text)`); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	start := time.Now()
	tag, err := conn.PgConn().CopyFrom(ctx, f, `COPY raw FROM STDIN WITH (FORMAT csv, HEADER true)`)
	f.Close()
	if err != nil {
		return err
	}
	copyTime := time.Since(start)
	conn.Close(ctx)
	fmt.Printf("bare COPY (unindexed table):     %8.2fs  %9.0f rows/s\n", copyTime.Seconds(), float64(tag.RowsAffected())/copyTime.Seconds())

	// 2. contactd import, a process of its own.
	cfg.Database = importDB
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	if _, _, err := runProc(bin, url, "migrate"); err != nil {
		return err
	}
	importTime, importRSS, err := runProc(bin, url, "import", "--file", file, "--source", "bench")
	if err != nil {
		return err
	}
	fmt.Printf("contactd import (normalized, referenced, indexed): %6.2fs  %9.0f rows/s  peak RSS %4.0f MiB  = %.1f× the COPY time\n",
		importTime.Seconds(), float64(rows)/importTime.Seconds(), importRSS, importTime.Seconds()/copyTime.Seconds())

	// 3. The database's own share: COPY the rows the import wrote (contacts, their external
	// references and audit entries, already normalized) into the same schema, without contactd.
	floorURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, floorDB)
	if _, _, err := runProc(bin, floorURL, "migrate"); err != nil {
		return err
	}
	floorTime, err := copyTables(ctx, url, floorURL, "imports", "contacts", "external_refs", "audit_log")
	if err != nil {
		return err
	}
	fmt.Printf("COPY of the rows it wrote into the same indexed schema (contacts, external_refs, audit_log): %6.2fs = %.1f× the bare COPY; the import takes %.2f× this\n",
		floorTime.Seconds(), floorTime.Seconds()/copyTime.Seconds(), importTime.Seconds()/floorTime.Seconds())

	// 4. contactd export of everything to a file.
	out := filepath.Join(dir, "export.csv")
	exportTime, exportRSS, err := runProc(bin, url, "export", "--format", "csv", "--out", out)
	if err != nil {
		return err
	}
	fmt.Printf("contactd export (CSV):           %8.2fs  %9.0f rows/s  peak RSS %4.0f MiB\n", exportTime.Seconds(), float64(rows)/exportTime.Seconds(), exportRSS)
	return nil
}

// copyTables copies the tables' rows from one database to another with binary COPY, one table
// after another, and returns the time the COPYs into the destination took.
func copyTables(ctx context.Context, fromURL, toURL string, tables ...string) (time.Duration, error) {
	from, err := pgx.Connect(ctx, fromURL)
	if err != nil {
		return 0, err
	}
	defer from.Close(ctx)
	to, err := pgx.Connect(ctx, toURL)
	if err != nil {
		return 0, err
	}
	defer to.Close(ctx)
	// Through a file, not memory: this process's size would count in the next child's peak RSS
	// (Linux records the forking process's high-water mark at exec).
	tmp, err := os.CreateTemp("", "importbench-*.copy")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var took time.Duration
	for _, t := range tables {
		if err := tmp.Truncate(0); err != nil {
			return 0, err
		}
		if _, err := tmp.Seek(0, 0); err != nil {
			return 0, err
		}
		if _, err := from.PgConn().CopyTo(ctx, tmp, "COPY "+t+" TO STDOUT (FORMAT binary)"); err != nil {
			return 0, fmt.Errorf("copy %s out: %w", t, err)
		}
		if _, err := tmp.Seek(0, 0); err != nil {
			return 0, err
		}
		start := time.Now()
		if _, err := to.PgConn().CopyFrom(ctx, tmp, "COPY "+t+" FROM STDIN (FORMAT binary)"); err != nil {
			return 0, fmt.Errorf("copy %s in: %w", t, err)
		}
		took += time.Since(start)
	}
	return took, nil
}

// runProc runs the binary and returns its wall time and peak resident memory in MiB.
func runProc(bin, url string, args ...string) (time.Duration, float64, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "CONTACTD_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %v: %w\n%s", bin, args, err, out)
	}
	rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
	return took, rss, nil
}

// generate writes a CRM-like CSV: common names, shared company phones and domains, some
// national-format numbers, a few duplicates of earlier rows with new ids.
func generate(path string, rows int) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Fprintln(w, "externalId,firstName,lastName,email,phone,title,company")
	for i := range rows {
		fn, ln := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		var phone string
		switch r.IntN(4) {
		case 0:
			phone = fmt.Sprintf("+1 %03d-%03d-%04d", 201+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
		case 1:
			phone = fmt.Sprintf("(%03d) %03d-%04d", 201+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
		case 2:
			phone = fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000))
		}
		fmt.Fprintf(w, "b%d,%s,%s,%s.%s%d@%s,%s,%s,%s\n", i, fn, csvQuote(ln), lower(fn), lower(ln), i, domains[r.IntN(len(domains))],
			phone, titles[r.IntN(len(titles))], companies[r.IntN(len(companies))])
	}
	return w.Flush()
}

func csvQuote(s string) string {
	for _, c := range s {
		if c == '"' || c == ',' {
			return `"` + s + `"`
		}
	}
	return s
}

func lower(s string) string {
	out := []rune(s)
	for i, c := range out {
		if c >= 'A' && c <= 'Z' {
			out[i] = c + 32
		}
		if c == '\'' {
			out[i] = 'x'
		}
	}
	return string(out)
}
