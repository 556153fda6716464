package matcher

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenModel loads the model in testdata, trained on a slice of
// crm_contacts; with -update it is retrained first.
func goldenModel(t testing.TB) *Model {
	t.Helper()
	const path = "testdata/contacts_model.json"
	if *update {
		s := DefaultSettings()
		s.Training.USamples = 200_000
		s.Training.TermFrequencyTopK = 40
		m, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		_, recs, _ := crmSlice(t, 4000)
		md, err := m.Train(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.MarshalIndent(md, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// explainPairs are the tricky pairs whose explanations are golden.
var explainPairs = []struct {
	name string
	a, b Record
}{
	{"nickname and gmail alias",
		Record{"firstName": "Bob", "lastName": "O'Brien", "email": "bob.obrien+crm@gmail.com", "phone": "+1 415 555 2671", "company": "Acme, Inc.", "title": "CFO"},
		Record{"firstName": "Robert", "lastName": "OBRIEN", "email": "bobobrien@googlemail.com", "phone": "(415) 555-2671 x12", "company": "ACME", "title": "Chief Financial Officer"}},
	{"swapped names, accents",
		Record{"firstName": "Müller", "lastName": "Zoë", "email": "zoe.muller@web.de", "phone": "+49 30 1234567"},
		Record{"firstName": "Zoe", "lastName": "Mueller", "email": "", "phone": "030 1234567", "company": "Soylent GmbH"}},
	{"relatives sharing a home e-mail",
		Record{"firstName": "Janet", "lastName": "Suzuki", "email": "janet_suzuki@gmail.com", "phone": "305 659 3091"},
		Record{"firstName": "Mark", "lastName": "Suzuki", "email": "janet_suzuki@gmail.com", "phone": "+55 11 90297 7276"}},
	{"colleagues sharing a switchboard",
		Record{"firstName": "Anna", "lastName": "Kowalski", "email": "anna.kowalski@initech.com", "phone": "+1 415 555 0100", "company": "Initech", "title": "CTO"},
		Record{"firstName": "Adam", "lastName": "Kowalski", "email": "adam.kowalski@initech.com", "phone": "415-555-0100", "company": "Initech Inc", "title": "Buyer"}},
	{"namesakes at two employers",
		Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@bellowscollege.net", "title": "Buyer", "company": "Bellows College"},
		Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@virtucon.com", "title": "Buyer"}},
	{"a common full name at two employers",
		Record{"firstName": "Amanda", "lastName": "Rodriguez", "email": "amanda.rodriguez@initech.com", "company": "Initech", "title": "Buyer"},
		Record{"firstName": "Amanda", "lastName": "Rodriguez", "email": "arodriguez@gmail.com", "title": "Buyer"}},
	{"initial",
		Record{"firstName": "J.", "lastName": "Smith", "email": "jsmith@initech.com", "company": "Initech"},
		Record{"firstName": "John", "lastName": "Smith", "email": "jsmith@initech.com", "title": "Engineer"}},
}

func TestExplainGolden(t *testing.T) {
	t.Parallel()
	md := goldenModel(t)
	m := md.Matcher()
	got := map[string]Explanation{}
	for _, p := range explainPairs {
		e := md.Explain(m.Prepare(p.a), m.Prepare(p.b))
		sum := e.Prior
		for _, f := range e.Fields {
			sum += f.Weight
		}
		if e.FullName != nil {
			sum += e.FullName.Weight
		}
		if d := sum - e.Total; d > 0.01 || d < -0.01 {
			t.Errorf("%s: fields add up to %.3f, total %.3f", p.name, sum, e.Total)
		}
		if s := md.Score(m.Prepare(p.a), m.Prepare(p.b)); round3(s) != e.Total {
			t.Errorf("%s: Score %.3f, Explain total %.3f", p.name, s, e.Total)
		}
		e.Probability = round3(e.Probability)
		got[p.name] = e
	}
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/explain.golden.json"
	if *update {
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(data)+"\n" {
		t.Errorf("explanations differ from %s (run go test -run TestExplainGolden -update):\n%s", path, data)
	}
}
