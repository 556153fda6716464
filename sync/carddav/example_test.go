package carddav_test

import (
	"encoding/json"
	"fmt"

	"github.com/contactd/contactd/sync/carddav"
	"github.com/contactd/contactd/sync/source"
)

// A carddav source's password is split off its config: sealed apart and never shown.
func ExampleType_CheckConfig() {
	public, secrets, errs := carddav.Type{}.CheckConfig(json.RawMessage(`{
		"url": "https://dav.example/alice/", "username": "alice", "password": "s3cret", "pushNew": true}`), source.Both)
	fmt.Println(string(public))
	fmt.Println(len(secrets), "secret:", secrets["password"] != "", "errors:", len(errs))
	_, _, errs = carddav.Type{}.CheckConfig(json.RawMessage(`{"url": "dav.example", "password": "x"}`), source.Pull)
	for _, e := range errs {
		fmt.Println(e.Field, "-", e.Message)
	}
	// Output:
	// {"url":"https://dav.example/alice/","username":"alice","pushNew":true}
	// 1 secret: true errors: 0
	// config.url - must be an absolute http or https URL
	// config.username - is required with password
}
