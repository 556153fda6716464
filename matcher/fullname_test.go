package matcher

import (
	"encoding/json"
	"math"
	"testing"
)

// TestFullNameFrequency: a full name counted as common lowers the weight of a pair agreeing on
// it at two employers, by what its parts' weights overstate, and says so in the explanation; the
// same pair at one company, and a rare full name, are not adjusted.
func TestFullNameFrequency(t *testing.T) {
	t.Parallel()
	base := goldenModel(t)
	p := base.Params()
	p.FullNames = &TermFrequencies{Records: 4000, Counts: map[string]int{"amanda|rodriguez": 40}}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	md, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	m := md.Matcher()
	amanda := Record{"firstName": "Amanda", "lastName": "Rodriguez", "email": "amanda.rodriguez@initech.com", "company": "Initech", "title": "Buyer"}
	tests := []struct {
		name     string
		a, b     Record
		adjusted bool
	}{
		{"common name at two employers", amanda,
			Record{"firstName": "Amanda", "lastName": "Rodriguez", "email": "arodriguez@gmail.com", "company": "Virtucon", "title": "Buyer"}, true},
		{"names crossed", amanda,
			Record{"firstName": "Rodriguez", "lastName": "Amanda", "company": "Virtucon"}, true},
		{"company missing on one side", amanda,
			Record{"firstName": "Amanda", "lastName": "Rodriguez", "title": "Buyer"}, true},
		{"one company", amanda,
			Record{"firstName": "Amanda", "lastName": "Rodriguez", "email": "arodriguez@gmail.com", "company": "Initech Inc"}, false},
		{"rare name", Record{"firstName": "Amanda", "lastName": "Okonkwo-Lindqvist", "company": "Initech"},
			Record{"firstName": "Amanda", "lastName": "Okonkwo-Lindqvist", "company": "Virtucon"}, false},
		{"first name only", amanda,
			Record{"firstName": "Amanda", "lastName": "Rodgers", "company": "Virtucon"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := m.Prepare(tt.a), m.Prepare(tt.b)
			e := md.Explain(a, b)
			without := base.Score(a, b)
			got := md.Score(a, b)
			if math.Abs(round3(got)-e.Total) > 0.002 {
				t.Errorf("Score %.3f, Explain total %.3f", got, e.Total)
			}
			if !tt.adjusted {
				if e.FullName != nil || got != without {
					t.Errorf("adjusted: %+v, score %.3f without full names %.3f", e.FullName, got, without)
				}
				return
			}
			if e.FullName == nil || e.FullName.Name != "amanda|rodriguez" || e.FullName.Weight >= 0 {
				t.Fatalf("full name explanation %+v; want a negative weight for amanda|rodriguez", e.FullName)
			}
			if d := without - got; math.Abs(d+e.FullName.Weight) > 0.002 {
				t.Errorf("score lowered by %.3f, explanation says %.3f", d, -e.FullName.Weight)
			}
		})
	}
}
