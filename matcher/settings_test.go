package matcher

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBuiltinSettings(t *testing.T) {
	t.Parallel()
	for _, name := range BuiltinSettingsNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := BuiltinSettings(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(s); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := BuiltinSettings("nope"); !errors.Is(err, ErrSettings) {
		t.Fatalf("unknown name: err = %v", err)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSettings(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, back) {
		t.Fatalf("round trip changed the settings:\n%+v\n%+v", s, back)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	_, err := ParseSettings([]byte(`{"name":"x","fields":[{"name":"a","type":"bogus","levels":[{"kind":"jaroWinkler"}]}],
		"blocking":[{"name":"b","parts":[{"field":"zzz"}]}],"thresholds":{"same":0.5,"possible":0.9,"conflict":0.1}}`))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`unknown type "bogus"`, "jaroWinkler threshold", `unknown field "zzz"`, "thresholds"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := ParseSettings([]byte(`{"name":"x","typo":1}`)); !errors.Is(err, ErrSettings) {
		t.Errorf("unknown key: err = %v", err)
	}
}
