// Command benchdata writes a CSV of realistic generated contacts with
// labelled duplicates, for benchmarking the matcher at scale:
//
//	go run ./tools/benchdata -n 1000000 -out bench.csv
//
// Columns: externalId, firstName, lastName, email, phone, title, company,
// entity (the truth label, for evaluation only). Names follow a skewed
// popularity so that common names (John Smith) form large blocks; people
// at one company share its domain and switchboard number; about a third
// of the people have one to four duplicates with typos, nicknames,
// swapped names, case changes, e-mail aliases, reformatted phone numbers
// and missing fields. The output is deterministic for a seed.
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"github.com/contactd/contactd/internal/fakedata"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

var nicks = map[string]string{"robert": "bob", "william": "bill", "richard": "dick", "james": "jim",
	"john": "jack", "michael": "mike", "elizabeth": "liz", "jennifer": "jen", "joseph": "joe",
	"thomas": "tom", "christopher": "chris", "daniel": "dan", "matthew": "matt", "anthony": "tony",
	"katherine": "kate", "margaret": "peggy", "steven": "steve", "andrew": "andy", "kenneth": "ken",
	"timothy": "tim", "edward": "ed", "samuel": "sam", "benjamin": "ben", "patricia": "pat",
	"jonathan": "jon", "nicholas": "nick", "alexander": "alex", "rebecca": "becky", "deborah": "debbie"}

var titles = strings.Fields(`ceo cfo cto engineer manager director consultant buyer analyst designer
accountant recruiter architect scientist developer administrator coordinator specialist`)

var titlePrefixes = []string{"", "", "", "senior ", "lead ", "head of ", "junior ", "chief "}

var words = strings.Fields(`acme globex initech umbrella stark wayne wonka tyrell cyberdyne soylent
hooli vandelay contoso fabrikam northwind tailspin wingtip litware proseware adventure fourth coffee
alpine blue yonder coho datum graphic humongous lucerne margie relecloud southridge trey woodgrove
granite copper silver golden pine oak maple river lake summit harbor beacon pioneer quantum vertex
apex nova stellar orbit fusion matrix vector pixel cloud data logic smart bright swift prime`)

var suffixes = []string{"Inc", "Inc.", "LLC", "Ltd", "GmbH", "Corp", "Co.", "PLC", "", "", "Group"}

var providers = []string{"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "gmx.de", "proton.me"}

type company struct {
	name, domain, phone string
}

type person struct {
	first, last, email, phone, title string
	co                               *company
}

func main() {
	n := flag.Int("n", 1_000_000, "number of records")
	out := flag.String("out", "", "output CSV file (default stdout)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*n, *out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

// zipf picks an index in [0, n) with a skewed popularity.
func zipf(r *rand.Rand, n int) int {
	return int(math.Min(float64(n-1), math.Floor(math.Pow(r.Float64(), 2.2)*float64(n))))
}

func run(n int, out string, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 42))
	f := os.Stdout
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write([]string{"externalId", "firstName", "lastName", "email", "phone", "title", "company", "entity"}); err != nil {
		return err
	}
	companies := make([]company, max(50, n/60))
	for i := range companies {
		a, b := words[r.IntN(len(words))], words[r.IntN(len(words))]
		name := capitalize(a) + " " + capitalize(b)
		if r.IntN(3) == 0 {
			name = capitalize(a) + capitalize(b) + fmt.Sprintf(" %d", i)
		} else {
			name += fmt.Sprintf(" %d", i)
		}
		companies[i] = company{
			name:   strings.TrimSpace(name + " " + suffixes[r.IntN(len(suffixes))]),
			domain: a + b + strconv.Itoa(i) + ".com",
			phone:  usPhone(r),
		}
	}
	rec, entity := 0, 0
	for rec < n {
		p := newPerson(r, companies)
		dups := 0
		if r.IntN(3) == 0 {
			dups = 1 + r.IntN(4)
		}
		for d := 0; d <= dups && rec < n; d++ {
			row := p.variant(r, d > 0)
			row = append([]string{fmt.Sprintf("b%08d", rec)}, row...)
			row = append(row, strconv.Itoa(entity))
			if err := w.Write(row); err != nil {
				return err
			}
			rec++
		}
		entity++
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func usPhone(r *rand.Rand) string {
	return fmt.Sprintf("%03d%03d%04d", 201+r.IntN(700), 200+r.IntN(800), r.IntN(10000))
}

func newPerson(r *rand.Rand, companies []company) person {
	p := person{first: fakedata.FirstNames[zipf(r, len(fakedata.FirstNames))], last: fakedata.LastNames[zipf(r, len(fakedata.LastNames))]}
	p.co = &companies[r.IntN(len(companies))]
	p.title = titlePrefixes[r.IntN(len(titlePrefixes))] + titles[r.IntN(len(titles))]
	switch r.IntN(4) {
	case 0:
		p.phone = p.co.phone // switchboard shared by colleagues
	default:
		p.phone = usPhone(r)
	}
	if r.IntN(2) == 0 {
		p.email = fmt.Sprintf("%s.%s@%s", p.first, p.last, p.co.domain)
	} else {
		p.email = fmt.Sprintf("%s%s%d@%s", p.first, p.last, r.IntN(100), providers[r.IntN(len(providers))])
	}
	return p
}

// variant renders a person as a CSV row, with realistic noise when dup.
func (p person) variant(r *rand.Rand, dup bool) []string {
	first, last, email, phone, title, co := p.first, p.last, p.email, p.phone, p.title, p.co.name
	phone = formatPhone(r, phone)
	if dup {
		switch r.IntN(8) {
		case 0:
			first = typo(r, first)
		case 1:
			last = typo(r, last)
		case 2:
			if nn, ok := nicks[first]; ok {
				first = nn
			} else {
				first = first[:1] + "."
			}
		case 3:
			first, last = last, first
		case 4:
			email = strings.ToUpper(email[:1]) + email[1:]
			if at := strings.IndexByte(email, '@'); at > 0 {
				email = email[:at] + "+crm" + email[at:]
			}
		case 5:
			email = ""
		case 6:
			phone = ""
		}
		if r.IntN(5) == 0 {
			co = strings.TrimSuffix(strings.TrimSuffix(co, " Inc"), " LLC")
		}
		if r.IntN(6) == 0 {
			title = ""
		}
	}
	if r.IntN(10) == 0 {
		first, last = strings.ToUpper(first), strings.ToUpper(last)
	} else {
		first, last = capitalize(first), capitalize(last)
	}
	return []string{first, last, email, phone, title, co}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func typo(r *rand.Rand, s string) string {
	if len(s) < 3 {
		return s
	}
	i := 1 + r.IntN(len(s)-2)
	b := []byte(s)
	switch r.IntN(3) {
	case 0:
		b[i], b[i+1] = b[i+1], b[i]
	case 1:
		b = append(b[:i], b[i+1:]...)
	default:
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func formatPhone(r *rand.Rand, d string) string {
	if d == "" {
		return ""
	}
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("(%s) %s-%s", d[:3], d[3:6], d[6:])
	case 1:
		return fmt.Sprintf("+1 %s-%s-%s", d[:3], d[3:6], d[6:])
	case 2:
		return fmt.Sprintf("%s.%s.%s x%d", d[:3], d[3:6], d[6:], 100+r.IntN(900))
	case 3:
		return "1-" + d[:3] + "-" + d[3:6] + "-" + d[6:]
	}
	return d
}
