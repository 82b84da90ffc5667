package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
)

// readmeConfig returns the README's configuration reference: its section
// from "## Configuration" to the next section.
func readmeConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	require.True(t, ok, "README has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// yamlLine finds key's line in a config.yaml text, a nested key (retry.base)
// under its section's line (retry:). It returns the value, the comment, and
// whether the line is commented out (# workers: 8).
func yamlLine(text, key string) (value, comment string, commented, ok bool) {
	lines := strings.Split(text, "\n")
	parent, leaf, nested := strings.Cut(key, ".")
	indent := ""
	if nested {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == parent+":" && !strings.HasPrefix(l, " ") })
		if i < 0 {
			return "", "", false, false
		}
		lines, indent = lines[i+1:], `\s+`
	} else {
		leaf = parent
	}
	re := regexp.MustCompile(`^` + indent + `(# )?` + regexp.QuoteMeta(leaf) + `:\s*(\S+)\s*#\s*(.*)$`)
	for _, l := range lines {
		if nested && !strings.HasPrefix(l, " ") {
			break // the end of the section
		}
		if m := re.FindStringSubmatch(l); m != nil {
			return m[2], m[3], m[1] != "", true
		}
	}
	return "", "", false, false
}

// config.yaml and the README's reference write every setting of the
// engine's table with its default, its doc as the comment, and (the README)
// its limits; every such setting is a key of the configuration.
func TestConfigYAMLAndREADMEShowTheTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../config.yaml")
	require.NoError(t, err)
	readme := readmeConfig(t)
	_, block, _ := strings.Cut(readme, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	for _, s := range scheduler.Settings() {
		def := "`" + s.Default + "`"
		if strings.HasPrefix(s.Default, "the ") {
			def = s.Default
		}
		key := "`" + s.Key + "`"
		if s.LibraryOnly {
			key += " (library only: `" + s.Field + "`)"
		}
		require.Contains(t, readme, fmt.Sprintf("| %s | %s | %s |", key, def, s.Accepts), "README's row of %s", s.Key)
		if s.LibraryOnly {
			require.NotContains(t, KnownKeys(), s.Key)
			continue
		}
		require.Contains(t, KnownKeys(), s.Key)
		for name, text := range map[string]string{"config.yaml": string(b), "README": block} {
			value, comment, commented, ok := yamlLine(text, s.Key)
			require.True(t, ok, "%s has a line for %s with a comment", name, s.Key)
			require.Equal(t, s.Doc, comment, "%s: the comment of %s", name, s.Key)
			if commented {
				require.Contains(t, s.Doc, s.Default, "%s: %s is commented out, so its comment gives the default", name, s.Key)
			} else {
				require.Equal(t, s.Default, value, "%s: the default of %s", name, s.Key)
			}
		}
	}
}
