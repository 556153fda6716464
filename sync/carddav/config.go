package carddav

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
)

// Config is a carddav source's settings. Password is a secret: sealed apart, never shown.
type Config struct {
	// URL is the address book collection, or a principal or server URL it is found from.
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// PushNew says contacts created in contactd are created in the address book too.
	PushNew bool `json:"pushNew,omitempty"`
}

// Type checks carddav sources' configs for the source store.
type Type struct{}

// CheckConfig validates a carddav source's config and splits its password off.
func (Type) CheckConfig(raw json.RawMessage, _ source.Direction) (json.RawMessage, map[string]string, db.FieldErrors) {
	var errs db.FieldErrors
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		errs.Add("config", "must be an object of the carddav source's settings (url, username, password, pushNew): %v", err)
		return nil, nil, errs
	}
	if u, err := url.Parse(c.URL); c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add("config.url", "must be an absolute http or https URL")
	} else if u.User != nil {
		errs.Add("config.url", "must not carry credentials: use username and password")
	}
	if c.Password != "" && c.Username == "" {
		errs.Add("config.username", "is required with password")
	}
	secrets := map[string]string{}
	if c.Password != "" {
		secrets["password"] = c.Password
	}
	c.Password = ""
	public, err := json.Marshal(c)
	if err != nil {
		errs.Add("config", "%v", err)
	}
	return public, secrets, errs
}

// load rebuilds the full config from the public part and the secrets.
func load(public json.RawMessage, secrets map[string]string) (*Config, error) {
	var c Config
	if err := json.Unmarshal(public, &c); err != nil {
		return nil, fmt.Errorf("carddav: config: %w", err)
	}
	c.Password = secrets["password"]
	return &c, nil
}
