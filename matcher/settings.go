package matcher

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
)

// Settings describe what to compare and how: the fields, their agreement
// levels, the blocking rules, the term-frequency fields and the decision
// thresholds. They are data (JSON), not code; DefaultSettings returns the
// built-in settings for contacts.
type Settings struct {
	// Name identifies the settings in reports.
	Name string `json:"name"`
	// Description says what data the settings are for.
	Description string `json:"description,omitempty"`
	// Fields are compared one by one; at most 16.
	Fields []Field `json:"fields"`
	// SwapNames names two fields whose values are sometimes entered the
	// wrong way round (first and last name); such pairs compare crossed.
	SwapNames []string `json:"swapNames,omitempty"`
	// FullNameFrequency, when set, adjusts a pair whose two SwapNames
	// fields both agree exactly by how common the full name (the two
	// together) is, beyond what each part's term frequency says: the parts
	// of a common full name are not independent evidence.
	FullNameFrequency *FullNameFrequency `json:"fullNameFrequency,omitempty"`
	// Blocking rules: two records are candidates when one of the rules
	// gives them the same key.
	Blocking []BlockingRule `json:"blocking"`
	// MaxBlockSize caps the records compared all-to-all in one block;
	// larger blocks are sorted and compared within a sliding window.
	MaxBlockSize int `json:"maxBlockSize,omitempty"`
	// Window is the sliding-window width used for oversized blocks.
	Window int `json:"window,omitempty"`
	// DefaultRegion is the ISO 3166 region for phone numbers without a
	// country code.
	DefaultRegion string `json:"defaultRegion,omitempty"`
	// Thresholds turn scores into decisions.
	Thresholds Thresholds `json:"thresholds"`
	// Training tunes unsupervised training.
	Training Training `json:"training,omitzero"`
}

// FullNameFrequency configures the full-name term-frequency adjustment.
type FullNameFrequency struct {
	// DistinctBy names a field: a full name counts once per value of it
	// (records of one person usually share it), so that one person's
	// duplicates do not make their name look common. Empty counts records.
	DistinctBy string `json:"distinctBy,omitempty"`
	// MinPeople is the fewest counts (of DistinctBy values) a full name
	// needs before it is adjusted; 0 means 3.
	MinPeople int `json:"minPeople,omitempty"`
}

// Field is one compared attribute of a record.
type Field struct {
	// Name is the field's name in models and explanations.
	Name string `json:"name"`
	// Column is the record key to read; it defaults to Name.
	Column string `json:"column,omitempty"`
	// Type selects the normalizer: givenName, name, email, phone, company,
	// title, date, text or exact.
	Type string `json:"type"`
	// Levels are tried in order; the first that holds is the pair's level.
	// Pairs that meet none are at the implicit level "else", and pairs
	// with a missing value at the implicit level "missing" (weight 0).
	Levels []Level `json:"levels"`
	// TermFrequency adjusts exact agreement by how common the value is.
	TermFrequency bool `json:"termFrequency,omitempty"`
}

// Level is one agreement level of a field.
type Level struct {
	// Kind is exact, key (the type's match key: provider-aware e-mail,
	// phone digits, company without legal form, name without spaces),
	// nickname, initial, jaroWinkler, levenshtein, tokens, prefix,
	// emailLocal, emailNameLocal (the same local part, spelt from either
	// record's own name: its u is the share among pairs whose names
	// agree, so it weighs only what it adds to the names),
	// emailNameVariant (local parts at most two edits apart at one domain,
	// either spelt from its record's name: the difference mirrors the
	// names', which weigh it already, so the level weighs 0; local parts
	// further apart at one domain are two colleagues' and fall to else), emailChannel
	// (one address private, at a free-mail provider, the other not),
	// otherWorkDomain (both addresses at different non-free-mail
	// domains: two employers), dateSwap or dateDays.
	Kind string `json:"kind"`
	// Threshold is the minimum similarity for jaroWinkler and the minimum
	// share of common tokens for tokens.
	Threshold float64 `json:"threshold,omitempty"`
	// Max is the maximum distance for levenshtein and dateDays, and the
	// prefix length for prefix.
	Max int `json:"max,omitempty"`
}

// Label names the level in explanations, such as "jaroWinkler>=0.92".
func (l Level) Label() string {
	switch l.Kind {
	case "jaroWinkler":
		return fmt.Sprintf("jaroWinkler>=%g", l.Threshold)
	case "tokens":
		return fmt.Sprintf("tokens>=%g", l.Threshold)
	case "levenshtein", "dateDays":
		return fmt.Sprintf("%s<=%d", l.Kind, l.Max)
	case "prefix":
		return fmt.Sprintf("prefix%d", l.Max)
	}
	return l.Kind
}

// BlockingRule builds one blocking key per record from its parts; records
// lacking any part get no key from the rule.
type BlockingRule struct {
	// Name identifies the rule in statistics.
	Name string `json:"name"`
	// Parts are concatenated into the key.
	Parts []KeyPart `json:"parts"`
	// Unordered sorts the parts before joining them, so that swapped
	// values (first and last name) give the same key.
	Unordered bool `json:"unordered,omitempty"`
}

// KeyPart is one field of a blocking key and how it is reduced: value
// (normalized), key (the type's match key), soundex, initial, prefix3,
// year, local (e-mail local part) or domain (e-mail domain).
type KeyPart struct {
	Field     string `json:"field"`               // a field name of the settings
	Transform string `json:"transform,omitempty"` // how the value is reduced; "" means value
}

// Thresholds are match probabilities (0..1) that separate the outcomes.
type Thresholds struct {
	// Same is the probability at or above which a pair is merged
	// automatically. Tuned for precision.
	Same float64 `json:"same"`
	// Possible is the probability at or above which a pair goes to human
	// review.
	Possible float64 `json:"possible"`
	// Conflict is the probability below which two records clearly differ;
	// clustering never puts such records together (anti-chaining guard).
	Conflict float64 `json:"conflict"`
}

// Training tunes unsupervised training. Zero values take defaults.
type Training struct {
	// Seed drives random sampling; training is deterministic per seed.
	Seed uint64 `json:"seed,omitempty"`
	// USamples is the number of random pairs that estimate u.
	USamples int `json:"uSamples,omitempty"`
	// MaxIterations bounds EM.
	MaxIterations int `json:"maxIterations,omitempty"`
	// MaxPairs bounds the candidate pairs EM learns from; beyond it a
	// deterministic sample of the pairs is used.
	MaxPairs int `json:"maxPairs,omitempty"`
	// TermFrequencyTopK is how many of the most common values per
	// term-frequency field the model keeps.
	TermFrequencyTopK int `json:"termFrequencyTopK,omitempty"`
}

// Defaults applied by withDefaults.
const (
	defaultMaxBlockSize = 100
	defaultWindow       = 10
	defaultUSamples     = 1_000_000
	defaultMaxIter      = 1000
	defaultTFTopK       = 2000
	defaultMaxPairs     = 3_000_000
	maxFields           = 16
	maxLevels           = 13
)

var (
	fieldTypes = []string{"givenName", "name", "email", "phone", "company", "title", "date", "text", "exact"}
	levelKinds = []string{"exact", "key", "nickname", "initial", "jaroWinkler", "levenshtein", "tokens", "prefix", "emailLocal", "emailNameLocal", "emailNameVariant", "emailChannel", "otherWorkDomain", "dateSwap", "dateDays"}
	transforms = []string{"", "value", "key", "soundex", "initial", "prefix3", "year", "local", "domain"}
)

// ErrSettings is wrapped by every settings validation error.
var ErrSettings = errors.New("invalid matcher settings")

// Validate checks the settings and reports every problem found.
func (s *Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrSettings}, args...)...))
	}
	if len(s.Fields) == 0 || len(s.Fields) > maxFields {
		bad("want 1 to %d fields, have %d", maxFields, len(s.Fields))
	}
	names := map[string]bool{}
	for i, f := range s.Fields {
		if f.Name == "" {
			bad("fields[%d]: empty name", i)
		}
		if names[f.Name] {
			bad("fields[%d]: duplicate name %q", i, f.Name)
		}
		names[f.Name] = true
		if !slices.Contains(fieldTypes, f.Type) {
			bad("field %q: unknown type %q (want one of %s)", f.Name, f.Type, strings.Join(fieldTypes, ", "))
		}
		if len(f.Levels) == 0 || len(f.Levels) > maxLevels {
			bad("field %q: want 1 to %d levels, have %d", f.Name, maxLevels, len(f.Levels))
		}
		for _, l := range f.Levels {
			if !slices.Contains(levelKinds, l.Kind) {
				bad("field %q: unknown level kind %q", f.Name, l.Kind)
			}
			if l.Kind == "jaroWinkler" && (l.Threshold <= 0 || l.Threshold > 1) {
				bad("field %q: jaroWinkler threshold %g not in (0, 1]", f.Name, l.Threshold)
			}
			if (l.Kind == "levenshtein" || l.Kind == "dateDays" || l.Kind == "prefix") && l.Max <= 0 {
				bad("field %q: %s needs max > 0", f.Name, l.Kind)
			}
		}
	}
	if len(s.SwapNames) != 0 && (len(s.SwapNames) != 2 || !names[s.SwapNames[0]] || !names[s.SwapNames[1]]) {
		bad("swapNames must name two fields")
	}
	if f := s.FullNameFrequency; f != nil {
		if len(s.SwapNames) != 2 {
			bad("fullNameFrequency needs swapNames")
		}
		if f.DistinctBy != "" && !names[f.DistinctBy] {
			bad("fullNameFrequency: unknown field %q", f.DistinctBy)
		}
		if f.MinPeople < 0 {
			bad("fullNameFrequency: minPeople %d < 0", f.MinPeople)
		}
	}
	if len(s.Blocking) == 0 {
		bad("want at least one blocking rule")
	}
	for i, r := range s.Blocking {
		if len(r.Parts) == 0 {
			bad("blocking[%d] %q: no parts", i, r.Name)
		}
		for _, p := range r.Parts {
			if !names[p.Field] {
				bad("blocking[%d] %q: unknown field %q", i, r.Name, p.Field)
			}
			if !slices.Contains(transforms, p.Transform) {
				bad("blocking[%d] %q: unknown transform %q", i, r.Name, p.Transform)
			}
		}
	}
	t := s.Thresholds
	if !(0 < t.Conflict && t.Conflict < t.Possible && t.Possible <= t.Same && t.Same < 1) {
		bad("thresholds must satisfy 0 < conflict < possible <= same < 1, have %+v", t)
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with zero tuning values replaced by defaults.
func (s Settings) withDefaults() Settings {
	if s.MaxBlockSize <= 0 {
		s.MaxBlockSize = defaultMaxBlockSize
	}
	if s.Window <= 0 {
		s.Window = defaultWindow
	}
	if s.DefaultRegion == "" {
		s.DefaultRegion = "US"
	}
	if s.Training.USamples <= 0 {
		s.Training.USamples = defaultUSamples
	}
	if s.Training.MaxPairs <= 0 {
		s.Training.MaxPairs = defaultMaxPairs
	}
	if s.Training.MaxIterations <= 0 {
		s.Training.MaxIterations = defaultMaxIter
	}
	if s.Training.TermFrequencyTopK <= 0 {
		s.Training.TermFrequencyTopK = defaultTFTopK
	}
	for i := range s.Fields {
		if s.Fields[i].Column == "" {
			s.Fields[i].Column = s.Fields[i].Name
		}
	}
	return s
}

// ParseSettings decodes and validates JSON settings. Unknown keys are
// errors so that a misspelt option is not silently ignored.
func ParseSettings(data []byte) (*Settings, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Settings
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

//go:embed settings/*.json
var builtinFS embed.FS

// builtinAliases maps other names of built-in settings to their file.
var builtinAliases = map[string]string{
	"crm": "contacts", "crm_contacts": "contacts", "default": "contacts",
	"febrl1": "febrl", "febrl2": "febrl", "febrl3": "febrl", "febrl4": "febrl",
	"splink_fake_1000": "fake_1000", "splink_historical_50k": "historical_50k",
}

// BuiltinSettings returns the built-in settings called name: contacts (also
// crm, crm_contacts, default), febrl, fake_1000 or historical_50k. Each call
// returns a fresh copy.
func BuiltinSettings(name string) (*Settings, error) {
	if a, ok := builtinAliases[name]; ok {
		name = a
	}
	data, err := builtinFS.ReadFile(path.Join("settings", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("%w: no built-in settings %q (have %s)", ErrSettings, name, strings.Join(BuiltinSettingsNames(), ", "))
	}
	return ParseSettings(data)
}

// BuiltinSettingsNames lists the names BuiltinSettings accepts.
func BuiltinSettingsNames() []string {
	entries, _ := builtinFS.ReadDir("settings")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	for a := range builtinAliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// DefaultSettings returns the built-in settings for contacts, which read
// the columns firstName, lastName, email, phone, company and title.
func DefaultSettings() *Settings {
	s, err := BuiltinSettings("contacts")
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return s
}

// probToWeight converts a match probability to a match weight in bits.
func probToWeight(p float64) float64 {
	return math.Log2(p / (1 - p))
}

// weightToProb converts a match weight in bits to a probability.
func weightToProb(w float64) float64 {
	return 1 / (1 + math.Exp2(-w))
}
