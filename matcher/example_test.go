package matcher_test

import (
	"context"
	"fmt"
	"os"

	"github.com/contactd/contactd/matcher"
)

func ExampleNormalizeEmail() {
	addr, err := matcher.NormalizeEmail("  Jörg.Schmidt@Bücher.DE ")
	fmt.Println(addr, err)
	_, err = matcher.NormalizeEmail("no-at-sign")
	fmt.Println(err)
	// Output:
	// Jörg.Schmidt@xn--bcher-kva.de <nil>
	// invalid e-mail address: want exactly one @
}

func ExampleEmailKey() {
	fmt.Println(matcher.EmailKey("John.Smith+news@googlemail.com"))
	fmt.Println(matcher.EmailKey("John.Smith+news@outlook.com"))
	// Output:
	// johnsmith@gmail.com
	// john.smith@outlook.com
}

func ExampleNormalizePhone() {
	p := matcher.NormalizePhone("(415) 555-2671 ext. 42", "US")
	fmt.Printf("%s ext %s valid %v\n", p.E164, p.Extension, p.Valid)
	fmt.Println(matcher.NormalizePhone("555-1234", "US").Valid)
	fmt.Println(matcher.PhoneDigits("+1 (415) 555-2671"))
	// Output:
	// +14155552671 ext 42 valid true
	// false
	// 11
}

func ExampleNormalizeCompany() {
	fmt.Println(matcher.NormalizeCompany("Acme, Inc."), matcher.NormalizeCompany("ACME"))
	// Output: acme acme
}

func ExampleIsNickname() {
	fmt.Println(matcher.IsNickname("Bob", "Robert"), matcher.IsNickname("Bob", "Alice"))
	// Output: true false
}

func ExampleMatcher_Keys() {
	m, err := matcher.New(matcher.DefaultSettings())
	if err != nil {
		panic(err)
	}
	for _, k := range m.KeysOf(matcher.Record{
		"firstName": "Bob", "lastName": "Smith", "email": "Bob.Smith+crm@gmail.com",
		"phone": "+1 415 555 2671", "company": "Acme, Inc.",
	}) {
		fmt.Println(k)
	}
	// Output:
	// 0:bobsmith@gmail.com
	// 1:bobsmith
	// 2:155552671
	// 3:B100|S530
	// 4:smith|acme
	// 5:bob|acme
}

// A database-backed job stores each record's keys, finds the records that
// share a key with a new one, and scores the new record against them.
func ExampleModel_Match() {
	data, err := os.ReadFile("testdata/contacts_model.json")
	if err != nil {
		panic(err)
	}
	model, err := matcher.LoadModel(data)
	if err != nil {
		panic(err)
	}
	m := model.Matcher()
	rec := m.Prepare(matcher.Record{"firstName": "Bob", "lastName": "Smith", "email": "bob.smith@gmail.com", "phone": "415 555 2671"})
	candidates := []*matcher.Prepared{
		m.Prepare(matcher.Record{"firstName": "Robert", "lastName": "Smith", "email": "bobsmith+crm@googlemail.com"}),
		m.Prepare(matcher.Record{"firstName": "Alice", "lastName": "Smith", "phone": "+1 415 555 2671"}),
	}
	for _, c := range model.Match(rec, candidates) {
		fmt.Printf("candidate %d: %s\n", c.Index, c.Decision)
	}
	// Output:
	// candidate 0: same
	// candidate 1: different
}

func ExampleModel_Explain() {
	data, err := os.ReadFile("testdata/contacts_model.json")
	if err != nil {
		panic(err)
	}
	model, err := matcher.LoadModel(data)
	if err != nil {
		panic(err)
	}
	m := model.Matcher()
	e := model.Explain(
		m.Prepare(matcher.Record{"firstName": "J.", "lastName": "O'Brien", "company": "Acme, Inc."}),
		m.Prepare(matcher.Record{"firstName": "John", "lastName": "OBRIEN", "company": "ACME"}),
	)
	for _, f := range e.Fields {
		fmt.Printf("%-9s %-8s %+.1f bits\n", f.Field, f.Level, f.Weight)
	}
	fmt.Println(e.Decision)
	// Output:
	// firstName initial  +3.9 bits
	// lastName  exact    +6.2 bits
	// email     missing  +0.0 bits
	// phone     missing  +0.0 bits
	// company   exact    +6.3 bits
	// title     missing  +0.0 bits
	// possible
}

// Matcher.Train learns a model from thousands of unlabelled records (here
// one is loaded); Dedupe then blocks, scores and clusters records on all
// cores.
func ExampleModel_Dedupe() {
	data, err := os.ReadFile("testdata/contacts_model.json")
	if err != nil {
		panic(err)
	}
	model, err := matcher.LoadModel(data)
	if err != nil {
		panic(err)
	}
	m := model.Matcher()
	people := []matcher.Record{
		{"firstName": "Bob", "lastName": "Smith", "email": "bob.smith@gmail.com", "phone": "415 555 2671", "company": "Acme"},
		{"firstName": "Robert", "lastName": "Smith", "email": "bobsmith@googlemail.com", "phone": "+1 415-555-2671", "company": "Acme Inc"},
		{"firstName": "Alice", "lastName": "Jones", "email": "alice@initech.com", "phone": "212 555 0199", "company": "Initech"},
		{"firstName": "Alice", "lastName": "Jones", "email": "alice.jones@initech.com", "phone": "(212) 555-0199", "company": "INITECH"},
		{"firstName": "Carol", "lastName": "White", "email": "carol.white@hooli.com", "phone": "650 555 0100", "company": "Hooli"},
		{"firstName": "Dave", "lastName": "Brown", "email": "dave.brown@hooli.com", "phone": "650 555 0111", "company": "Hooli"},
	}
	recs := make([]*matcher.Prepared, len(people))
	for i, p := range people {
		recs[i] = m.Prepare(p)
	}
	res, err := model.Dedupe(context.Background(), recs, matcher.ScanOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Clusters)
	// Output: [0 0 2 2 4 5]
}
