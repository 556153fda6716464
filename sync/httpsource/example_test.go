package httpsource_test

import (
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/sync/httpsource"
	"github.com/contactd/contactd/sync/source"
)

// An http source's config is checked against the field registry (custom fields are named
// customFields.<key>; their values are checked by type when records arrive), and its secrets
// are split off: they are sealed apart and never shown.
func ExampleType_CheckConfig() {
	public, secrets, errs := httpsource.Type{}.CheckConfig(json.RawMessage(`{
		"url": "https://crm.example/api/people", "token": "t0k3n", "itemsPath": "data", "idPath": "id",
		"fieldMapping": {"email": "emails.0.value", "customFields.tier": "tier", "shoeSize": "shoe", "customFields.Tier": "tier"}}`), source.Pull)
	fmt.Println(string(public))
	fmt.Println(len(secrets), "secret:", secrets["token"] != "")
	for _, e := range errs {
		fmt.Println(e.Field, "-", e.Message)
	}
	// Output:
	// {"url":"https://crm.example/api/people","itemsPath":"data","idPath":"id","fieldMapping":{"customFields.Tier":"tier","customFields.tier":"tier","email":"emails.0.value","shoeSize":"shoe"}}
	// 1 secret: true
	// config.fieldMapping.customFields.Tier - is not a custom field key (customFields.<key>, the key in lower case letters, digits and _)
	// config.fieldMapping.shoeSize - is not a contact field (one of firstName, lastName, email, phone, title, company, street, city, region, postalCode, country, or customFields.<key>)
}
