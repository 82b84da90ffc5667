package tasks

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// rules parses entries, failing t on an error.
func rules(t *testing.T, entries ...string) httpRules {
	t.Helper()
	var rs httpRules
	for _, e := range entries {
		r, err := ParseHTTPRule(e)
		require.NoError(t, err, e)
		rs = append(rs, r)
	}
	return rs
}

func TestHTTPRuleMatching(t *testing.T) {
	t.Parallel()
	rs := rules(t, "api.example.com", "Example.org:8443", "https://hooks.example.net/api", "http://10.0.0.5:8080/x/",
		"127.0.0.1:9000", "127.0.0.1", "[::1]:9001", "https://[2001:db8::1]/v1", "10.1.2.3")
	for _, tc := range []struct {
		url  string
		want string // "" when allowed, else a part of the error
	}{
		// A host alone: ports 80 and 443, either scheme, any path.
		{"http://api.example.com/anything?q=1", ""},
		{"https://api.example.com/", ""},
		{"https://API.example.com", ""},
		{"http://api.example.com:443/", ""},
		{"http://api.example.com:8080/", "http://api.example.com:8080/ is not allowed by handlers.http.allow (entries: api.example.com, Example.org:8443, "},
		{"http://api.example.com:6379/", "add an entry such as api.example.com:6379"},
		{"https://www.example.com/", "add an entry such as www.example.com"},
		// host:port: that port only.
		{"https://example.org:8443/x", ""},
		{"http://example.org:8443/x", ""},
		{"https://example.org/", "https://example.org:443/ is not allowed"},
		// A URL prefix: its scheme, its port, its path and below.
		{"https://hooks.example.net/api", ""},
		{"https://hooks.example.net/api/", ""},
		{"https://hooks.example.net/api/v1/x", ""},
		{"https://hooks.example.net:443/api", ""},
		{"https://hooks.example.net/apix", "https://hooks.example.net:443/apix is not allowed"},
		{"https://hooks.example.net/ap", "is not allowed"},
		{"https://hooks.example.net/", "add an entry such as https://hooks.example.net:443/"},
		{"http://hooks.example.net/api", "is not allowed"},
		{"https://hooks.example.net:8443/api", "is not allowed"},
		{"https://hooks.example.net/api/../admin", `the path has a "." or ".." segment`},
		{"https://hooks.example.net/api/%2e%2e/admin", `the path has a "." or ".." segment`},
		{"https://hooks.example.net/api/..%5cadmin", `the path has a "." or ".." segment`},
		{"https://hooks.example.net/api/./x", `the path has a "." or ".." segment`},
		{"https://hooks.example.net/api/..x", ""},
		{"http://10.0.0.5:8080/x/y", ""},
		{"http://10.0.0.5:8080/x/", ""},
		{"http://10.0.0.5:8080/x", "is not allowed"},
		{"https://[2001:db8::1]/v1/z", ""},
		{"https://[2001:db8::1]:443/v1", ""},
		// Loopback, link-local and private addresses: only with a port.
		{"http://127.0.0.1:9000/", ""},
		{"http://127.0.0.1/", "http://127.0.0.1:80/: 127.0.0.1 is a loopback address, reached only through an entry of handlers.http.allow that writes its port, such as 127.0.0.1:80"},
		{"https://127.0.0.1/", "127.0.0.1 is a loopback address"},
		{"http://127.0.0.1:9001/", "http://127.0.0.1:9001/ is not allowed"},
		{"http://[::1]:9001/", ""},
		{"http://[::ffff:127.0.0.1]:9000/", ""},
		{"http://[::1]:9000/", "is not allowed"},
		{"http://[::127.0.0.1]/", "add an entry such as [::7f00:1]:80"}, // IPv4-compatible: judged as 127.0.0.1, so a port is needed
		{"http://[::10.0.0.1]/", "add an entry such as [::a00:1]:80"},
		{"http://10.1.2.3/", "10.1.2.3 is a private address"},
		{"http://169.254.169.254/latest/meta-data", "http://169.254.169.254:80/latest/meta-data is not allowed by handlers.http.allow (entries: "},
		{"http://localhost:9000/", "add an entry such as localhost:9000"},
		// Not a URL the handler requests.
		{"ftp://api.example.com/", "use an http or https URL"},
		{"http:///x", "has no host"},
	} {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		err = rs.checkURL(u)
		if tc.want == "" {
			require.NoError(t, err, tc.url)
			continue
		}
		require.ErrorContains(t, err, tc.want, tc.url)
	}
}

func TestParseHTTPRule(t *testing.T) {
	t.Parallel()
	for entry, want := range map[string]HTTPRule{
		"API.example.com":             {entry: "API.example.com", host: "api.example.com", ports: []int{80, 443}},
		" example.com:8080 ":          {entry: "example.com:8080", host: "example.com", ports: []int{8080}, named: true},
		"[::1]:8080":                  {entry: "[::1]:8080", host: "::1", ports: []int{8080}, named: true},
		"[::1]":                       {entry: "[::1]", host: "::1", ports: []int{80, 443}},
		"2001:db8::1":                 {entry: "2001:db8::1", host: "2001:db8::1", ports: []int{80, 443}},
		"https://example.com":         {entry: "https://example.com", scheme: "https", host: "example.com", ports: []int{443}},
		"https://example.com/":        {entry: "https://example.com/", scheme: "https", host: "example.com", ports: []int{443}},
		"http://example.com:81/api":   {entry: "http://example.com:81/api", scheme: "http", host: "example.com", ports: []int{81}, named: true, path: "/api"},
		"HTTPS://example.com/api/v1/": {entry: "HTTPS://example.com/api/v1/", scheme: "https", host: "example.com", ports: []int{443}, path: "/api/v1/"},
	} {
		got, err := ParseHTTPRule(entry)
		require.NoError(t, err, entry)
		require.Equal(t, want, got, entry)
	}
	for entry, want := range map[string]string{
		"":                      "is empty",
		"example.com/api":       "has a path but no scheme",
		"example.com:":          "has an empty port",
		"https://example.com:/": "has an empty port",
		"example.com:65536":     `port "65536" is not a number from 1 to 65535`,
		"example.com:+80":       `port "+80" is not a number from 1 to 65535`,
		"a..b":                  "has an empty label",
		"ex ample.com":          `has ' ', which is not in a host name`,
		"[fe80::1%eth0]:80":     "has a zone",
		"https://":              "has no host",
		"https://x/#frag":       "has a query or fragment",
		"https://%zz/":          "is not a URL",
	} {
		_, err := ParseHTTPRule(entry)
		require.ErrorContains(t, err, want, "%q", entry)
	}
}
