package architecture

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/heimdallhub/heimdall"

var adapters = []string{
	module + "/internal/kafka",
	module + "/internal/graphstore",
	module + "/internal/datakeys",
	module + "/internal/auditstore",
	module + "/internal/httpapi",
	"github.com/twmb/franz-go",
	"github.com/jackc/pgx",
	"github.com/labstack/echo",
}

type rule struct {
	pkgPrefix string
	forbidden []string
}

var rules = []rule{
	{module + "/commands", append([]string{module + "/projections", module + "/sync", module + "/cmd"}, adapters...)},
	{module + "/projections", append([]string{module + "/commands", module + "/sync", module + "/cmd"}, adapters...)},
	{module + "/sync", append([]string{module + "/commands", module + "/projections", module + "/cmd"}, adapters...)},
	{module + "/events", append([]string{module + "/commands", module + "/projections", module + "/sync", module + "/internal", module + "/cmd"}, adapters...)},
	{module + "/internal", []string{module + "/cmd"}},
}

// TestImportRules checks every package's transitive imports (test files
// excluded) against the rules of the package doc.
func TestImportRules(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg, deps := fields[0], fields[1:]
		for _, r := range rules {
			if !within(pkg, r.pkgPrefix) {
				continue
			}
			checked++
			for _, d := range deps {
				for _, f := range r.forbidden {
					if within(d, f) {
						t.Errorf("%s imports %s (forbidden: %s)", pkg, d, f)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package checked")
	}
}

func within(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}
