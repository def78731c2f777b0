package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryVariable: the configuration reference in the
// README has a row for every variable Load and the tools read, with its default (a
// variable whose default is derived at run time may describe it).
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if strings.HasPrefix(name, "HEIMDALL_") {
			rows[name] = strings.Trim(strings.TrimSpace(cells[2]), "`")
		}
	}
	for _, v := range append(append([]Var{}, Vars...), ClientVars...) {
		def, ok := rows[v.Name]
		switch {
		case !ok:
			t.Errorf("README: no row for %s", v.Name)
		case v.Default != "" && def != v.Default && !strings.Contains(def, "<"):
			t.Errorf("README: %s default %q, the code's is %q", v.Name, def, v.Default)
		}
	}
}
