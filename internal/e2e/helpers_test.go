package e2e

import (
	"encoding/json"
	"testing"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

func filepathModuleRoot(t testing.TB) (string, error) {
	t.Helper()
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
