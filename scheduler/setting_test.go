package scheduler

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// configDocs returns the doc comment of each field of Config, by name.
func configDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	require.NoError(t, err)
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range field.Names {
				docs[name.Name] = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})
	return docs
}

// Every field of Config but the logger, the clock and the observer is a
// setting of the table, and every setting is a field of Config.
func TestEverySettingIsAFieldOfConfig(t *testing.T) {
	t.Parallel()
	fields := map[string]bool{}
	for f := range reflect.TypeFor[Config]().Fields() {
		fields[f.Name] = true
	}
	delete(fields, "Logger")
	delete(fields, "Clock")
	delete(fields, "Observer")
	keys := map[string]bool{}
	for _, s := range Settings() {
		require.True(t, fields[s.Field], "%s: no field %s", s.Key, s.Field)
		require.False(t, keys[s.Key], "%s: listed twice", s.Key)
		delete(fields, s.Field)
		keys[s.Key] = true
		require.NotEmpty(t, s.Default, s.Key)
		require.NotEmpty(t, s.Accepts, s.Key)
		require.NotEmpty(t, s.Doc, s.Key)
	}
	require.Empty(t, fields, "fields without a setting")
}

// Each field's doc comment gives the table's default ("Defaults to 15s.")
// and, where it states a lower limit ("300ms or more"), the table's.
func TestConfigDocsGiveTheDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	docs := configDocs(t)
	limit := regexp.MustCompile(`(\S+) or more`)
	for _, s := range Settings() {
		doc := docs[s.Field]
		require.Contains(t, doc, "Defaults to "+s.Default+".", s.Field)
		for _, m := range limit.FindAllString(doc, -1) {
			require.Equal(t, s.Accepts, m, s.Field)
		}
	}
}

// Values are written as config.yaml writes them.
func TestShowWritesValuesAsConfigYAMLDoes(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 300 * time.Millisecond: "300ms", 15 * time.Second: "15s", 5 * time.Minute: "5m",
		90 * time.Minute: "1h30m", 24 * time.Hour: "24h", -time.Hour: "-1h", 61 * time.Second: "1m1s",
	} {
		require.Equal(t, want, show(d))
	}
	require.Equal(t, "5", show(5))
}
