package matcher

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Model is a trained Fellegi-Sunter model: the settings it was trained
// with, the prior match probability of a candidate pair, the m and u
// probabilities of every level and the most common values of the
// term-frequency fields. It serialises to a small JSON document (see
// MarshalJSON and LoadModel). A Model is safe for concurrent use.
type Model struct {
	m      *Matcher
	params ModelParams
	// weights[f][gamma] is the match weight in bits of each level.
	weights [][]float64
	prior   float64
	tf      []map[string]float64 // per field: value → weight adjustment in bits
	// fullU is, per common full name (fullNameKey), the share of people having it.
	fullU map[string]float64
	// fullBy is the field index of FullNameFrequency.DistinctBy, -1 for none.
	fullBy int
	same   float64 // thresholds as weights
	possib float64
	confl  float64
}

// ModelParams is the serialised form of a Model.
type ModelParams struct {
	// Version is the model format version.
	Version int `json:"version"`
	// Settings the model was trained with.
	Settings Settings `json:"settings"`
	// Lambda is the prior probability that a candidate pair matches.
	Lambda float64 `json:"lambda"`
	// Fields holds the learnt probabilities, in settings order.
	Fields []FieldParams `json:"fields"`
	// FullNames, with Settings.FullNameFrequency, count the most common full
	// names (see fullNameKey) among Records people (records, or distinct
	// values of its DistinctBy field per full name).
	FullNames *TermFrequencies `json:"fullNames,omitempty"`
	// Training describes the training run.
	Training TrainingStats `json:"training"`
}

// FieldParams are the learnt probabilities of one field.
type FieldParams struct {
	Name string `json:"name"` // the field's name in the settings
	// Levels are in settings order followed by "else".
	Levels []LevelParams `json:"levels"`
	// TermFrequencies, when the field has them, are the counts of its
	// most common normalized values among Records records.
	TermFrequencies *TermFrequencies `json:"termFrequencies,omitempty"`
}

// LevelParams are the probabilities of one agreement level.
type LevelParams struct {
	Name string `json:"name"` // the level's label, or "else"
	// M is the probability of the level among matching pairs.
	M float64 `json:"m"`
	// U is the probability of the level among non-matching pairs.
	U float64 `json:"u"`
}

// TermFrequencies count the most common values of a field.
type TermFrequencies struct {
	Records int            `json:"records"` // records with a value
	Counts  map[string]int `json:"counts"`  // value → records having it
}

// TrainingStats describe how a model was trained.
type TrainingStats struct {
	Records        int   `json:"records"`        // records trained on
	CandidatePairs int64 `json:"candidatePairs"` // blocked pairs visited (sampled beyond MaxPairs)
	USamples       int64 `json:"uSamples"`       // random pairs that estimated u
	Patterns       int   `json:"patterns"`       // distinct agreement patterns over the EM sessions
	Iterations     int   `json:"iterations"`     // EM iterations over all sessions
	Converged      bool  `json:"converged"`      // every EM session converged
}

const modelVersion = 1

// maxTFBoost caps how many bits a rare shared value can add over the
// level's average weight.
const maxTFBoost = 4.0

// newModel compiles parameters into a scoring model.
func newModel(m *Matcher, p ModelParams) (*Model, error) {
	if len(p.Fields) != len(m.fields) {
		return nil, fmt.Errorf("matcher: model has %d fields, settings %d", len(p.Fields), len(m.fields))
	}
	if !(p.Lambda > 0 && p.Lambda < 1) {
		return nil, fmt.Errorf("matcher: model lambda %g not in (0, 1)", p.Lambda)
	}
	md := &Model{m: m, params: p, prior: math.Log2(p.Lambda / (1 - p.Lambda))}
	md.weights = make([][]float64, len(p.Fields))
	md.tf = make([]map[string]float64, len(p.Fields))
	for i, f := range p.Fields {
		if want := len(m.fields[i].levels) + 1; len(f.Levels) != want || f.Name != m.fields[i].Name {
			return nil, fmt.Errorf("matcher: model field %d (%s) does not fit the settings", i, f.Name)
		}
		w := make([]float64, len(f.Levels)+1) // gamma 0 (missing) weighs 0
		for k, l := range f.Levels {
			if !(l.M > 0 && l.U > 0) {
				return nil, fmt.Errorf("matcher: model field %s level %s: m and u must be positive", f.Name, l.Name)
			}
			w[k+1] = math.Log2(l.M / l.U)
		}
		md.weights[i] = w
		if tf := f.TermFrequencies; tf != nil && tf.Records > 0 && m.fields[i].TermFrequency {
			adj := make(map[string]float64, len(tf.Counts))
			uExact := f.Levels[0].U
			for v, c := range tf.Counts {
				uTF := float64(c) / float64(tf.Records)
				adj[v] = min(math.Log2(uExact/uTF), maxTFBoost)
			}
			md.tf[i] = adj
		}
	}
	if f := p.FullNames; f != nil && f.Records > 0 && m.settings.FullNameFrequency != nil && m.swapA >= 0 {
		md.fullU = make(map[string]float64, len(f.Counts))
		md.fullBy = -1
		if by := m.settings.FullNameFrequency.DistinctBy; by != "" {
			md.fullBy = m.fieldIndex(by)
		}
		for v, c := range f.Counts {
			md.fullU[v] = float64(c) / float64(f.Records)
		}
	}
	t := m.settings.Thresholds
	md.same, md.possib, md.confl = probToWeight(t.Same), probToWeight(t.Possible), probToWeight(t.Conflict)
	return md, nil
}

// Matcher returns the matcher that prepares records for this model.
func (md *Model) Matcher() *Matcher { return md.m }

// Params returns the model's parameters.
func (md *Model) Params() ModelParams { return md.params }

// MarshalJSON encodes the model as a small JSON document.
func (md *Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(md.params)
}

// LoadModel decodes a model written by MarshalJSON.
func LoadModel(data []byte) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p ModelParams
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("matcher: load model: %w", err)
	}
	if p.Version != modelVersion {
		return nil, fmt.Errorf("matcher: load model: version %d, want %d", p.Version, modelVersion)
	}
	m, err := New(&p.Settings)
	if err != nil {
		return nil, fmt.Errorf("matcher: load model: %w", err)
	}
	return newModel(m, p)
}

// Decision is the outcome for a pair.
type Decision int

// The three outcomes, from the least to the most confident.
const (
	Different Decision = iota // the records describe different people
	Possible                  // a human should review the pair
	Same                      // the records can be merged automatically
)

var decisionNames = [...]string{"different", "possible", "same"}

// String returns "different", "possible" or "same".
func (d Decision) String() string {
	if d < 0 || int(d) >= len(decisionNames) {
		return fmt.Sprintf("Decision(%d)", int(d))
	}
	return decisionNames[d]
}

// MarshalText encodes the decision as its name.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a decision name.
func (d *Decision) UnmarshalText(b []byte) error {
	for i, n := range decisionNames {
		if string(b) == n {
			*d = Decision(i)
			return nil
		}
	}
	return errors.New("matcher: unknown decision " + string(b))
}

// Decide turns a match weight into a decision with the model's thresholds.
func (md *Model) Decide(weight float64) Decision {
	switch {
	case weight >= md.same:
		return Same
	case weight >= md.possib:
		return Possible
	}
	return Different
}

// Probability converts a match weight to a match probability.
func Probability(weight float64) float64 { return weightToProb(weight) }

// Score returns the match weight of a pair in bits: the prior plus the
// weight of each field's level, with term-frequency adjustments. Higher
// means more likely the same person; see Decide and Probability.
func (md *Model) Score(a, b *Prepared) float64 {
	c := md.m.compare(a, b)
	return md.scoreComparison(&c, a, b)
}

func (md *Model) scoreComparison(c *comparison, a, b *Prepared) float64 {
	w := md.prior
	for i, ws := range md.weights {
		g := c[i]
		w += ws[g]
		if g == 1 && md.tf[i] != nil {
			w += md.tf[i][md.m.tfValue(i, &a.vals[i])]
		}
	}
	if md.fullU != nil {
		w += md.fullNameAdjust(c, a, b)
	}
	return w
}

// fullNameAdjust returns the full-name term-frequency adjustment of a pair
// whose two name fields both agree exactly: the name fields' weights
// assume their parts independent, u(first) × u(last) with each part's own
// term frequency, while the full name's own share of people, u(full), can
// be larger (a common pairing like Maria Garcia). The adjustment is
// log2(u(first) × u(last) / u(full)) when that is negative, and 0 when the
// full name is not among the common ones counted. Two records that also
// agree on the DistinctBy field (the same company) are not adjusted: the
// full name is counted once per company, and at one company it is rarely
// shared.
func (md *Model) fullNameAdjust(c *comparison, a, b *Prepared) float64 {
	ia, ib := md.m.swapA, md.m.swapB
	if c[ia] != 1 || c[ib] != 1 {
		return 0
	}
	if by := md.fullBy; by >= 0 && a.vals[by].key != "" && a.vals[by].key == b.vals[by].key {
		return 0
	}
	uFull, ok := md.fullU[md.m.fullNameKey(a)]
	if !ok {
		return 0
	}
	u := 1.0
	for _, i := range [2]int{ia, ib} {
		u *= md.params.Fields[i].Levels[0].U
		if md.tf[i] != nil {
			u /= math.Exp2(md.tf[i][md.m.tfValue(i, &a.vals[i])])
		}
	}
	return min(math.Log2(u/uFull), 0)
}

// Explanation tells a reviewer why a pair scored as it did.
type Explanation struct {
	// Prior is the weight of the prior match probability, in bits.
	Prior float64 `json:"prior"`
	// Fields explain each field's contribution.
	Fields []FieldExplanation `json:"fields"`
	// FullName, when the pair's full names agree and are common, is the
	// full-name term-frequency adjustment (in bits, negative), beyond the
	// name fields' own.
	FullName *FullNameExplanation `json:"fullName,omitempty"`
	// Total is the match weight: Prior plus every field's Weight, plus
	// FullName's.
	Total float64 `json:"total"`
	// Probability is the match probability of Total.
	Probability float64 `json:"probability"`
	// Decision is the outcome at the model's thresholds.
	Decision Decision `json:"decision"`
}

// FullNameExplanation is the full-name part of an Explanation.
type FullNameExplanation struct {
	Name   string  `json:"name"`   // the full name, as counted
	Weight float64 `json:"weight"` // the adjustment in bits
}

// FieldExplanation is one field's part in an Explanation.
type FieldExplanation struct {
	Field string `json:"field"` // the field's name
	// A and B are the normalized values compared.
	A string `json:"a"`
	B string `json:"b"` // see A
	// Level is the agreement level reached ("missing", "else" or a
	// configured level; "swapped:" marks crossed first and last names).
	Level string `json:"level"`
	// Weight is the level's weight in bits, including TF.
	Weight float64 `json:"weight"`
	// TF is the term-frequency part of Weight, in bits.
	TF float64 `json:"tf,omitempty"`
}

// Explain scores a pair field by field.
func (md *Model) Explain(a, b *Prepared) Explanation {
	c := md.m.compare(a, b)
	straight := [2]uint8{}
	if md.m.swapA >= 0 {
		straight[0] = md.m.level(md.m.swapA, &a.vals[md.m.swapA], &b.vals[md.m.swapA])
		straight[1] = md.m.level(md.m.swapB, &a.vals[md.m.swapB], &b.vals[md.m.swapB])
	}
	e := Explanation{Prior: round3(md.prior)}
	total := md.prior
	for i, f := range md.m.fields {
		g := c[i]
		fe := FieldExplanation{Field: f.Name, A: a.vals[i].s, B: b.vals[i].s, Level: md.levelName(i, g)}
		if md.m.swapA >= 0 && ((i == md.m.swapA && g != straight[0]) || (i == md.m.swapB && g != straight[1])) {
			fe.Level = "swapped:" + fe.Level
		}
		w := md.weights[i][g]
		if g == 1 && md.tf[i] != nil {
			fe.TF = md.tf[i][md.m.tfValue(i, &a.vals[i])]
			w += fe.TF
		}
		total += w
		fe.Weight, fe.TF = round3(w), round3(fe.TF)
		e.Fields = append(e.Fields, fe)
	}
	if md.fullU != nil {
		if w := md.fullNameAdjust(&c, a, b); w != 0 {
			e.FullName = &FullNameExplanation{Name: md.m.fullNameKey(a), Weight: round3(w)}
			total += w
		}
	}
	e.Total = round3(total)
	e.Probability = weightToProb(total)
	e.Decision = md.Decide(total)
	return e
}

func (md *Model) levelName(i int, g uint8) string {
	if g == gammaMissing {
		return "missing"
	}
	return md.params.Fields[i].Levels[g-1].Name
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// Candidate is the result of scoring one record against another.
type Candidate struct {
	// Index is the candidate's position in the slice passed to Match.
	Index int `json:"index"`
	// Weight is the match weight in bits.
	Weight float64 `json:"weight"`
	// Probability is the match probability.
	Probability float64 `json:"probability"`
	// Decision is the outcome at the model's thresholds.
	Decision Decision `json:"decision"`
}

// Match scores rec against each candidate (typically the records that
// share a blocking key with it) and returns the results sorted by
// decreasing weight. It allocates only the result.
func (md *Model) Match(rec *Prepared, candidates []*Prepared) []Candidate {
	out := make([]Candidate, len(candidates))
	for i, c := range candidates {
		w := md.Score(rec, c)
		out[i] = Candidate{Index: i, Weight: w, Probability: weightToProb(w), Decision: md.Decide(w)}
	}
	sortCandidates(out)
	return out
}

func sortCandidates(cs []Candidate) {
	slices.SortFunc(cs, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Index, b.Index))
	})
}

// ProfileNames names the features of Profile, in its order: for each
// field, whether a record has a value ("firstName present") and whether
// the value is among the model's common values of a term-frequency field
// ("firstName common").
func (md *Model) ProfileNames() []string {
	out := make([]string, 0, 2*len(md.m.fields))
	for _, f := range md.m.fields {
		out = append(out, f.Name+" present", f.Name+" common")
	}
	return out
}

// Profile adds to counts (one per ProfileNames feature, allocated when
// nil) the features of record p, and returns counts. The shares of these
// features over the records a model was trained on, against those over the
// records checked since, show whether the data has drifted from the model.
func (md *Model) Profile(p *Prepared, counts []int64) []int64 {
	if counts == nil {
		counts = make([]int64, 2*len(md.m.fields))
	}
	for i := range md.m.fields {
		v := &p.vals[i]
		if v.s == "" {
			continue
		}
		counts[2*i]++
		if md.tf[i] != nil {
			if _, ok := md.params.Fields[i].TermFrequencies.Counts[md.m.tfValue(i, v)]; ok {
				counts[2*i+1]++
			}
		}
	}
	return counts
}
