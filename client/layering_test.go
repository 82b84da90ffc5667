package client

import (
	"os/exec"
	"strings"
	"testing"
)

// The client and the engine are siblings: a program that submits tasks
// does not link the engine, and the engine does not link the client, the
// HTTP API or the CLI.
func TestTheClientAndTheEngineLinkNeitherTheOther(t *testing.T) {
	t.Parallel()
	for pkg, banned := range map[string][]string{
		"github.com/dueq/dueq/client":         {"github.com/dueq/dueq/scheduler", "github.com/dueq/dueq/api", "github.com/dueq/dueq/cli"},
		"github.com/dueq/dueq/scheduler":      {"github.com/dueq/dueq/client", "github.com/dueq/dueq/api", "github.com/dueq/dueq/cli"},
		"github.com/dueq/dueq/internal/store": {"github.com/dueq/dueq/client", "github.com/dueq/dueq/scheduler", "github.com/dueq/dueq/deps"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == b {
					t.Errorf("package %s links %s", pkg, b)
				}
			}
		}
	}
}
