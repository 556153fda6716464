package contactfile

import "strings"

// customVCardPrefix is the prefix of the vCard properties that carry contactd's custom fields:
// X-CONTACTD-<KEY>, the key in upper case with its underscores as dashes (a vCard name has no
// underscores; a key has no dashes, so the mapping goes both ways). contactd's own
// X-CONTACTD-STATUS and X-CONTACTD-EXTERNAL-ID are not custom fields: no custom field may be
// keyed status or external_id.
const customVCardPrefix = "X-CONTACTD-"

// CustomKey is the custom field key a vCard property name carries, if it is X-CONTACTD-<KEY>
// and not one of contactd's own properties (X-CONTACTD-STATUS, X-CONTACTD-EXTERNAL-ID).
func CustomKey(property string) (string, bool) {
	up := strings.ToUpper(property)
	rest, ok := strings.CutPrefix(up, customVCardPrefix)
	if !ok || rest == "" || up == "X-CONTACTD-STATUS" || up == "X-CONTACTD-EXTERNAL-ID" {
		return "", false
	}
	return strings.ReplaceAll(strings.ToLower(rest), "-", "_"), true
}

// CustomProperty is the vCard property name that carries the custom field key.
func CustomProperty(key string) string {
	return customVCardPrefix + strings.ToUpper(strings.ReplaceAll(key, "_", "-"))
}
