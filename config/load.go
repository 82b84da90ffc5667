package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// DefaultFile is the configuration file Load reads when it is given none,
// if the file exists in the working directory.
const DefaultFile = "config.yaml"

// EnvPrefix prefixes the environment variables Load reads: a key's variable
// is the key upper-cased with dots as underscores (redis.url: DUEQ_REDIS_URL).
const EnvPrefix = "DUEQ"

// Flags maps the command-line flags Load reads (when they are in the flag
// set and were given) to the keys they override.
var Flags = map[string]string{
	"redis":   "redis.url",
	"workers": "workers",
	"queues":  "queues",
	"http":    "http.addr",
	"token":   "http.token",
}

// Load returns the defaults, overridden by the file at path (DefaultFile
// when path is "" and that file exists; a path that is given must exist),
// then by DUEQ_ environment variables, then by the flags of Flags that were
// given in flags (which may be nil). The configuration is validated: an
// unknown key, a wrong type or a bad value is an error naming the key and
// what to write instead.
func Load(path string, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	file, err := findFile(path)
	if err != nil {
		return nil, err
	}
	if file != "" {
		v.SetConfigFile(file)
		if !slices.Contains(viper.SupportedExts, strings.TrimPrefix(filepath.Ext(file), ".")) {
			v.SetConfigType("yaml")
		}
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
		if err := checkKeys(v, file); err != nil {
			return nil, err
		}
	}
	bound := map[string]string{} // key → flag name
	if flags != nil {
		for name, key := range Flags {
			if f := flags.Lookup(name); f != nil && f.Changed {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, fmt.Errorf("flag --%s: %w", name, err)
				}
				bound[key] = name
			}
		}
	}

	c := Default()
	c.File = file
	for _, k := range keys(c) {
		if !v.IsSet(k.name) {
			continue
		}
		val, from := v.Get(k.name), source(k.name, bound, file)
		if k.name == "schedules" && from == file {
			if raw, ok := caseKept(file, k.name); ok {
				val = raw
			}
		}
		if err := k.decode(val); err != nil {
			name := k.name
			var fe *fieldError
			if errors.As(err, &fe) {
				name, err = name+fe.sub, fe.err // schedules[2].every
			}
			return nil, fmt.Errorf("%s (from %s): %w", name, from, err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// caseKept returns the value of the top-level key of a YAML or JSON file
// with its map keys as written. Viper lower-cases every map key, even in
// lists, which would change the keys of schedules' args. ok is false when
// the file is in another format or has no such key.
func caseKept(file, key string) (val any, ok bool) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(file), "."))
	if slices.Contains(viper.SupportedExts, ext) && ext != "yaml" && ext != "yml" && ext != "json" {
		return nil, false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, false
	}
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil {
		return nil, false
	}
	timestampsAsStrings(&root)
	var doc map[string]any
	if root.Decode(&doc) != nil {
		return nil, false
	}
	for k, v := range doc {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// timestampsAsStrings retags the timestamps under n as strings, so that a
// date in args stays as written rather than becoming a time.Time.
func timestampsAsStrings(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		timestampsAsStrings(c)
	}
}

// findFile resolves the configuration file to read: "" for none.
func findFile(path string) (string, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			return DefaultFile, nil
		}
		return "", nil
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("config file %s does not exist: give an existing file, or leave --config out to use %s if present", path, DefaultFile)
	case err != nil:
		return "", fmt.Errorf("config file %s: %w", path, err)
	case st.IsDir():
		return "", fmt.Errorf("config file %s is a directory: give a YAML file", path)
	}
	return path, nil
}

// source says where a key's value came from, for error messages.
func source(key string, bound map[string]string, file string) string {
	if name, ok := bound[key]; ok {
		return "--" + name
	}
	env := EnvName(key)
	if os.Getenv(env) != "" {
		return env
	}
	if file != "" {
		return file
	}
	return "the defaults"
}

// EnvName is the environment variable of key: DUEQ_REDIS_URL for redis.url.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// checkKeys rejects the keys of the file that are not configuration keys.
func checkKeys(v *viper.Viper, file string) error {
	known := KnownKeys()
	var bad []string
	for _, k := range v.AllKeys() {
		if slices.Contains(known, k) {
			continue
		}
		// A section with no value ("retry:" or "retry: {}") is harmless;
		// a section with a scalar value is a wrong type.
		if isSection(k, known) {
			switch val := v.Get(k).(type) {
			case nil:
				continue
			case map[string]any:
				if len(val) == 0 {
					continue
				}
			}
			return fmt.Errorf("%s (from %s): must be a map with the keys %s", k, file, strings.Join(sectionKeys(k, known), ", "))
		}
		// A map where a value belongs ("queues: {a: 1}") is a wrong type.
		for _, kk := range keys(Default()) {
			if strings.HasPrefix(k, kk.name+".") {
				if err := kk.decode(v.Get(kk.name)); err != nil {
					return fmt.Errorf("%s (from %s): %w", kk.name, file, err)
				}
			}
		}
		bad = append(bad, k)
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	msg := fmt.Sprintf("%s: unknown key %q", file, bad[0])
	if len(bad) > 1 {
		msg = fmt.Sprintf("%s: unknown keys %q", file, bad)
	}
	if s := suggest(bad[0], known); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return fmt.Errorf("%s (known keys: %s)", msg, strings.Join(known, ", "))
}

func isSection(k string, known []string) bool { return len(sectionKeys(k, known)) > 0 }

func sectionKeys(k string, known []string) []string {
	var sub []string
	for _, kk := range known {
		if strings.HasPrefix(kk, k+".") {
			sub = append(sub, strings.TrimPrefix(kk, k+"."))
		}
	}
	return sub
}

// suggest returns the known key closest to k, if it is close.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, kk := range known {
		if d := distance(k, kk); d < bestD {
			best, bestD = kk, d
		}
		// "url" for "redis.url", "allow" for a misplaced section.
		if i := strings.LastIndex(kk, "."); i >= 0 && kk[i+1:] == k && best == "" {
			best = kk
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// KnownKeys lists every configuration key, in the order of config.yaml.
func KnownKeys() []string {
	ks := keys(Default())
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.name
	}
	return names
}

// key is one configuration key and how to decode a value into c.
type key struct {
	name   string
	decode func(v any) error
}

func keys(c *Config) []key {
	return []key{
		{"redis.url", secretString(&c.Redis.URL)},
		{"redis.allow_eviction", asBool(&c.Redis.AllowEviction)},
		{"redis.wait_replicas", asInt(&c.Redis.WaitReplicas)},
		{"namespace", asString(&c.Namespace)},
		{"partitions", asInt(&c.Partitions)},
		{"http.addr", asString(&c.HTTP.Addr)},
		{"http.token", secretString(&c.HTTP.Token)},
		{"workers", asInt(&c.Workers)},
		{"queues", asList(&c.Queues)},
		{"lease", asDuration(&c.Lease)},
		{"shutdown_grace", asDuration(&c.ShutdownGrace)},
		{"result_ttl", asDuration(&c.ResultTTL)},
		{"max_recoveries", asInt(&c.MaxRecoveries)},
		{"retry.base", asDuration(&c.Retry.Base)},
		{"retry.cap", asDuration(&c.Retry.Cap)},
		{"log.format", asString(&c.Log.Format)},
		{"log.level", asString(&c.Log.Level)},
		{"handlers.shell.allow", asShellRules(&c.Handlers.Shell.Allow)},
		{"handlers.http.allow", asList(&c.Handlers.HTTP.Allow)},
		{"schedules", asSchedules(&c.Schedules)},
	}
}
