package schemaregistry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/config"
)

func load(extra map[string]string) (config.Config, error) {
	env := map[string]string{
		"HEIMDALL_KAFKA_BROKERS":  "localhost:59092",
		"HEIMDALL_POSTGRES_URL":   "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_COMPONENTS":     "projector",
		"HEIMDALL_KAFKA_USER":     "heimdall",
		"HEIMDALL_KAFKA_PASSWORD": "kafka-password",
		"HEIMDALL_MASTER_KEY":     "q83vEjRWeJq83vEjRWeJ7u/+3LqYdlQyEM3e8BI0VmY=",
		"HEIMDALL_PSEUDONYM_KEYS": "pk1=RJC0hCPI8Aq/Oc9nKQfqurzsbEi0I3mOL5rg/kvii9o=",
	}
	for k, v := range extra {
		env[k] = v
	}
	return config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// The registry variables: off by default, https only, no credentials in the
// URL, a known wire format, and a password that never prints.
func TestRegistryConfiguration(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaRegistry.URL != "" || c.SchemaRegistry.WireFormat != "confluent" {
		t.Fatalf("defaults: %+v", c.SchemaRegistry)
	}
	c, err = load(map[string]string{
		"HEIMDALL_SCHEMA_REGISTRY_URL":        "https://registry.internal:8081/apis/ccompat/v7",
		"HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH": "heimdall:pa55word-xyz",
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.SchemaRegistry.BasicAuth) != "heimdall:pa55word-xyz" {
		t.Fatal("basic auth not loaded")
	}
	if printed := fmt.Sprintf("%v %+v %#v %s", c, c, c, c.SchemaRegistry.BasicAuth); strings.Contains(printed, "pa55word") {
		t.Fatal("configuration prints the registry password")
	}
	for _, bad := range []map[string]string{
		{"HEIMDALL_SCHEMA_REGISTRY_URL": "http://registry:8081"},
		{"HEIMDALL_SCHEMA_REGISTRY_URL": "https://u:pa55word-xyz@registry:8081"},
		{"HEIMDALL_SCHEMA_REGISTRY_URL": "https://registry:8081", "HEIMDALL_SCHEMA_REGISTRY_WIRE_FORMAT": "json"},
		{"HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH": "u:pa55word-xyz"},
		{"HEIMDALL_SCHEMA_REGISTRY_URL": "https://registry:8081", "HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH": "pa55word-xyz"},
	} {
		_, err := load(bad)
		if err == nil || !strings.Contains(err.Error(), "HEIMDALL_SCHEMA_REGISTRY_") || strings.Contains(err.Error(), "pa55word") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
	k, err := config.LoadKeys(func(name string) (string, bool) {
		m := map[string]string{"HEIMDALL_POSTGRES_URL": "postgres://u:p@localhost:5432/h?sslmode=verify-full",
			"HEIMDALL_MASTER_KEY": "q83vEjRWeJq83vEjRWeJ7u/+3LqYdlQyEM3e8BI0VmY=", "HEIMDALL_PSEUDONYM_KEYS": "pk1=RJC0hCPI8Aq/Oc9nKQfqurzsbEi0I3mOL5rg/kvii9o=",
			"HEIMDALL_SCHEMA_REGISTRY_URL": "https://registry:8081", "HEIMDALL_KAFKA_USER": "heimdall", "HEIMDALL_KAFKA_PASSWORD": "kafka-password"}
		v, ok := m[name]
		return v, ok
	})
	if err != nil || k.SchemaRegistry.URL != "https://registry:8081" {
		t.Fatalf("keys configuration: %+v, %v", k.SchemaRegistry, err)
	}
}
