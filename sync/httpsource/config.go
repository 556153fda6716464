package httpsource

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
)

// customKey is a custom field key's form (contact.CustomField.Validate).
var customKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Config is an http source's settings. Header values, token and password are secrets: they are
// sealed apart and never shown.
type Config struct {
	URL string `json:"url"`
	// Headers are sent with every request (their values are secrets).
	Headers map[string]string `json:"headers,omitempty"`
	// Token is sent as "Authorization: Bearer"; Username and Password as basic auth.
	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// ItemsPath is where the page's items are in the response ("" for a top-level array).
	ItemsPath string `json:"itemsPath"`
	// IDPath, UpdatedPath and DeletedPath are paths within an item.
	IDPath      string `json:"idPath"`
	UpdatedPath string `json:"updatedPath,omitempty"`
	DeletedPath string `json:"deletedPath,omitempty"`
	// CursorParam is the query parameter the next page's cursor goes in, read from
	// NextCursorPath of the response.
	CursorParam    string `json:"cursorParam,omitempty"`
	NextCursorPath string `json:"nextCursorPath,omitempty"`
	// UpdatedSinceParam is the query parameter of an incremental pull: the latest updated time
	// seen, less Overlap.
	UpdatedSinceParam string `json:"updatedSinceParam,omitempty"`
	// Overlap is how far before the last seen change an incremental pull starts (default 5m):
	// changes committed remotely out of order are not missed; records seen again are skipped.
	Overlap string `json:"overlap,omitempty"`
	// PageSize is sent as PageSizeParam (default "limit") when set.
	PageSize      int    `json:"pageSize,omitempty"`
	PageSizeParam string `json:"pageSizeParam,omitempty"`
	// FieldMapping maps contact fields (contact.Fields names, or customFields.<key> for a custom
	// field: its values are validated by the field's type when a record is applied) to paths
	// within an item.
	FieldMapping map[string]string `json:"fieldMapping"`
}

// Type checks http sources' configs for the source store.
type Type struct{}

// MaxPageSize bounds PageSize.
const MaxPageSize = 1000

// CheckConfig validates an http source's config and splits its secrets off.
func (Type) CheckConfig(raw json.RawMessage, dir source.Direction) (json.RawMessage, map[string]string, db.FieldErrors) {
	var errs db.FieldErrors
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		errs.Add("config", "must be an object of the http source's settings: %v", err)
		return nil, nil, errs
	}
	if dir != source.Pull && dir != "" {
		errs.Add("direction", "http sources only pull (push and both come with CardDAV)")
	}
	if u, err := url.Parse(c.URL); c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add("config.url", "must be an absolute http or https URL")
	}
	if c.IDPath == "" {
		errs.Add("config.idPath", "is required")
	}
	if len(c.FieldMapping) == 0 {
		errs.Add("config.fieldMapping", "must map at least one contact field")
	}
	for _, name := range slices.Sorted(maps.Keys(c.FieldMapping)) {
		path := c.FieldMapping[name]
		key, custom := strings.CutPrefix(name, contact.CustomPrefix)
		switch {
		case custom && !customKey.MatchString(key):
			errs.Add("config.fieldMapping."+name, "is not a custom field key (customFields.<key>, the key in lower case letters, digits and _)")
		case !custom && contact.FieldByName(name) == nil:
			errs.Add("config.fieldMapping."+name, "is not a contact field (one of %s, or customFields.<key>)", strings.Join(contact.FieldNames(), ", "))
		case path == "":
			errs.Add("config.fieldMapping."+name, "must be a JSON path")
		}
	}
	if (c.CursorParam == "") != (c.NextCursorPath == "") {
		errs.Add("config.cursorParam", "cursorParam and nextCursorPath go together")
	}
	if c.UpdatedSinceParam != "" && c.UpdatedPath == "" {
		errs.Add("config.updatedPath", "is required with updatedSinceParam")
	}
	if c.Overlap != "" {
		if d, err := time.ParseDuration(c.Overlap); err != nil || d < 0 {
			errs.Add("config.overlap", "must be a duration such as 5m")
		}
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		errs.Add("config.pageSize", "must be between 1 and %d", MaxPageSize)
	}
	if (c.Username == "") != (c.Password == "") && c.Password != "" {
		errs.Add("config.username", "is required with password")
	}
	secrets := map[string]string{}
	if c.Token != "" {
		secrets["token"] = c.Token
	}
	if c.Password != "" {
		secrets["password"] = c.Password
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			errs.Add("config.headers", "header name %q is not valid", k)
		}
		secrets["headers."+k] = v
	}
	c.Token, c.Password, c.Headers = "", "", nil
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
		return nil, fmt.Errorf("httpsource: config: %w", err)
	}
	c.Token, c.Password = secrets["token"], secrets["password"]
	c.Headers = map[string]string{}
	for k, v := range secrets {
		if name, ok := strings.CutPrefix(k, "headers."); ok {
			c.Headers[name] = v
		}
	}
	return &c, nil
}
