package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// wire sits below the engine and the HTTP client: linking it must not pull
// in either the engine or a Redis client.
func TestLinksNeitherTheEngineNorRedis(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/dueq/dueq/wire").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/redis/go-redis", "github.com/dueq/dueq/scheduler", "github.com/dueq/dueq/client", "github.com/alicebob/miniredis"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("package wire links %s: move what needs it out of wire, since the HTTP client imports wire", dep)
			}
		}
	}
}
