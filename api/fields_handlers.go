package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/gin-gonic/gin"
)

// customFieldJSON is a custom field definition as the API shows it.
type customFieldJSON struct {
	Key       string             `json:"key"`
	Label     string             `json:"label"`
	Type      contact.CustomType `json:"type"`
	Options   []string           `json:"options"`
	Required  bool               `json:"required"`
	Unique    bool               `json:"unique"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

func toCustomFieldJSON(d *contact.CustomField) customFieldJSON {
	opts := d.Options
	if opts == nil {
		opts = []string{}
	}
	return customFieldJSON{Key: d.Key, Label: d.Label, Type: d.Type, Options: opts, Required: d.Required,
		Unique: d.Unique, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// readCustom reads a contact's customFields: an object of values by key (numbers kept exact);
// nil when absent. The values are validated against the definitions when the contact is
// written.
func readCustom(o *object) contact.CustomInput {
	v, name, ok := o.raw("customFields")
	if !ok {
		return nil
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		o.bad(name, "must be an object of custom field values by key")
		return nil
	}
	return contact.CustomInput(m)
}

// customFieldsOf is a contact's custom values, never null.
func customFieldsOf(c *contact.Contact) contact.CustomValues {
	if c.Custom == nil {
		return contact.CustomValues{}
	}
	return c.Custom
}

// extraOf is what imports kept of a contact that maps to no field, never null.
func extraOf(c *contact.Contact) map[string]any {
	if c.Extra == nil {
		return map[string]any{}
	}
	return c.Extra
}

func (s *server) createField(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	d := contact.CustomField{Key: o.str("key").Value, Label: o.str("label").Value,
		Type: contact.CustomType(o.str("type").Value), Options: o.strings("options").Value,
		Required: o.boolean("required").Value, Unique: o.boolean("unique").Value}
	o.rejectUnknown()
	if !o.finishWith(c, d.Validate) {
		return
	}
	got, err := s.app.Contacts.CreateCustomField(c.Request.Context(), d)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/fields/"+got.Key)
	c.JSON(http.StatusCreated, toCustomFieldJSON(got))
}

func (s *server) listFields(c *gin.Context) {
	list, err := s.app.Contacts.ListCustomFields(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]customFieldJSON, 0, len(list))
	for _, d := range list {
		data = append(data, toCustomFieldJSON(d))
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func (s *server) getField(c *gin.Context) {
	got, err := s.app.Contacts.GetCustomField(c.Request.Context(), c.Param("key"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toCustomFieldJSON(got))
}

func (s *server) updateField(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	p := contact.CustomFieldPatch{Label: o.str("label"), Options: o.strings("options"),
		Required: o.boolean("required"), Unique: o.boolean("unique")}
	for _, fixed := range []string{"key", "type"} {
		if _, _, ok := o.raw(fixed); ok {
			o.bad(fixed, "cannot be changed; create a new field and copy the values")
		}
	}
	if p.Label.Null {
		o.bad("label", "must be a string")
	}
	if p.Options.Null {
		p.Options = contact.Some([]string{})
	}
	if p.Required.Null || p.Unique.Null {
		p.Required.Set, p.Unique.Set = p.Required.Set && !p.Required.Null, p.Unique.Set && !p.Unique.Null
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	got, err := s.app.Contacts.UpdateCustomField(c.Request.Context(), c.Param("key"), p)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toCustomFieldJSON(got))
}

func (s *server) deleteField(c *gin.Context) {
	if _, err := s.app.Contacts.DeleteCustomField(c.Request.Context(), c.Param("key")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
