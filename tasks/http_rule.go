package tasks

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// HTTPRule is one entry of the http handler's allow-list, parsed by
// ParseHTTPRule.
type HTTPRule struct {
	entry  string // as written, for messages
	scheme string // http or https; "": either
	host   string // lower case; an IP address in its canonical form
	ports  []int  // the ports it allows
	named  bool   // the entry writes its port
	path   string // the path prefix; "": any path
}

// ParseHTTPRule parses an entry of the http handler's allow-list:
//   - host (api.example.com) allows http and https to host on ports 80 and
//     443 only;
//   - host:port (api.example.com:8443, 127.0.0.1:8080, [::1]:8080) allows
//     http and https to host on that port;
//   - scheme://host[:port]/path-prefix (https://api.example.com/v1) allows
//     that scheme to host on that port (the scheme's own, 80 or 443, when
//     none is written) for the paths that are the prefix or lie below it:
//     /v1 allows /v1 and /v1/users but not /v1x; a prefix that ends in /
//     allows the paths that start with it; no path, or /, allows every path.
//
// Hosts match exactly and case-insensitively, with no wildcards; an IPv6
// address is written in brackets when a port follows. Loopback, link-local
// and private addresses are reached only through an entry that writes its
// port: "127.0.0.1" alone allows nothing (see HTTPRule.Warning), and a name
// that resolves to such an address when the request is made is refused
// unless its entry writes the port.
func ParseHTTPRule(entry string) (HTTPRule, error) {
	e := strings.TrimSpace(entry)
	r := HTTPRule{entry: e}
	if e == "" {
		return r, errors.New("is empty: write a host (api.example.com), a host:port (127.0.0.1:8080) or a URL prefix (https://api.example.com/v1)")
	}
	if strings.Contains(e, "://") {
		return r, r.parseURL(e)
	}
	if strings.ContainsAny(e, "/?#") {
		return r, fmt.Errorf("has a path but no scheme: write a URL prefix such as https://%s", e)
	}
	host, port, err := splitEntry(e)
	if err != nil {
		return r, err
	}
	if r.host, err = checkHost(host); err != nil {
		return r, err
	}
	r.ports = []int{80, 443}
	if port != "" {
		n, err := parsePort(port)
		if err != nil {
			return r, err
		}
		r.ports, r.named = []int{n}, true
	}
	return r, nil
}

// parseURL parses a URL prefix entry into r.
func (r *HTTPRule) parseURL(e string) error {
	u, err := url.Parse(e)
	if err != nil {
		return fmt.Errorf("is not a URL: %w: write a URL prefix such as https://api.example.com/v1", errors.Unwrap(err))
	}
	r.scheme = strings.ToLower(u.Scheme)
	switch {
	case r.scheme != "http" && r.scheme != "https":
		return fmt.Errorf("scheme %q: use http or https", u.Scheme)
	case u.User != nil:
		return errors.New("has a user name or password: an entry names no credentials; send them in the task's headers")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("has a query or fragment: an entry is a path prefix, scheme://host[:port]/path")
	case u.Host == "":
		return errors.New("has no host: write scheme://host[:port]/path")
	case hasDotSegment(u.Path):
		return errors.New(`its path has a "." or ".." segment: write the path without them`)
	}
	if r.host, err = checkHost(u.Hostname()); err != nil {
		return err
	}
	r.ports = []int{defaultPort(r.scheme)}
	if p := u.Port(); p != "" {
		n, err := parsePort(p)
		if err != nil {
			return err
		}
		r.ports, r.named = []int{n}, true
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an empty port: write the port after the colon, or leave the colon out")
	}
	if u.Path != "/" {
		r.path = u.Path
	}
	return nil
}

// splitEntry splits a host or host:port entry; an IPv6 address may stand
// alone or in brackets.
func splitEntry(e string) (host, port string, err error) {
	switch n := strings.Count(e, ":"); {
	case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
		return e[1 : len(e)-1], "", nil
	case strings.HasPrefix(e, "[") || n == 1:
		host, port, err = net.SplitHostPort(e)
		if err != nil {
			return "", "", fmt.Errorf("is not host:port: write e.g. 127.0.0.1:8080 or [::1]:8080")
		}
		if port == "" {
			return "", "", errors.New("has an empty port: write the port after the colon, or leave the colon out")
		}
		return host, port, nil
	case n > 1:
		if _, err := netip.ParseAddr(e); err != nil {
			return "", "", fmt.Errorf("is not a host or host:port: write an IPv6 address with a port in brackets, e.g. [::1]:8080")
		}
	}
	return e, "", nil
}

// checkHost checks a host of an entry and returns it as requests are
// compared with it.
func checkHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("has no host")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("host %q has a zone: write the address without %%%s", h, ip.Zone())
		}
		return ip.Unmap().String(), nil
	}
	if strings.Contains(h, "*") {
		return "", fmt.Errorf("host %q has a wildcard: wildcards are not supported, name each host", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "", fmt.Errorf("host %q has an empty label: write it without leading, trailing or doubled dots", h)
		}
		for _, c := range label {
			if !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '-' && c != '_' {
				return "", fmt.Errorf("host %q has %q, which is not in a host name", h, c)
			}
		}
	}
	return strings.ToLower(h), nil
}

// entryHost writes host as an entry without a port: an IPv6 address in
// brackets.
func entryHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// parsePort parses a port from 1 to 65535.
func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

// defaultPort is the port of an http or https URL without one.
func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

// normHost is a request's host as entries are compared with it.
func normHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return strings.ToLower(h)
}

// hasDotSegment reports whether path has a "." or ".." segment, with / or
// \ as separators (some servers take \ for /).
func hasDotSegment(path string) bool {
	for _, seg := range strings.FieldsFunc(path, func(c rune) bool { return c == '/' || c == '\\' }) {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// String is the entry as written.
func (r HTTPRule) String() string { return r.entry }

// Warning says, for an entry that can allow nothing (a loopback, link-local
// or private address without a port), what to write instead; "" for any
// other entry.
func (r HTTPRule) Warning() string {
	ip, err := netip.ParseAddr(r.host)
	if err != nil || r.named || addrKind(ip) == "" {
		return ""
	}
	return fmt.Sprintf("handlers.http.allow: %s allows nothing: %s is a %s address, reached only through an entry that writes its port, such as %s",
		r, r.host, addrKind(ip), r.withPort())
}

// withPort is r with its first port written, for suggestions.
func (r HTTPRule) withPort() string {
	hp := net.JoinHostPort(r.host, strconv.Itoa(r.ports[0]))
	if r.scheme == "" {
		return hp
	}
	return r.scheme + "://" + hp + r.path
}

// allows reports whether r allows a request with this scheme, host, port
// and path, leaving aside the rule for loopback, link-local and private
// addresses.
func (r HTTPRule) allows(scheme, host string, port int, path string) bool {
	if r.host != host || (r.scheme != "" && r.scheme != scheme) || !r.hasPort(port) {
		return false
	}
	switch {
	case r.path == "":
		return true
	case strings.HasSuffix(r.path, "/"):
		return strings.HasPrefix(path, r.path)
	}
	return path == r.path || strings.HasPrefix(path, r.path+"/")
}

func (r HTTPRule) hasPort(port int) bool {
	for _, p := range r.ports {
		if p == port {
			return true
		}
	}
	return false
}

// httpRules is the http handler's allow-list.
type httpRules []HTTPRule

// checkURL returns nil when u may be requested: http or https, and allowed
// by a rule. Its errors are refusals saying what to change.
func (rs httpRules) checkURL(u *url.URL) error {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return refusef("url %q: use an http or https URL", u.Redacted())
	}
	host := normHost(u.Hostname())
	if host == "" {
		return refusef("url %q has no host", u.Redacted())
	}
	port := defaultPort(scheme)
	if p := u.Port(); p != "" {
		n, err := parsePort(p)
		if err != nil {
			return refusef("url %q: %v", u.Redacted(), err)
		}
		port = n
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	target := short(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if hasDotSegment(path) {
		return refusef(`%s: the path has a "." or ".." segment, which a server may resolve to another path: write the path without them`, target)
	}
	kind := ""
	if ip, err := netip.ParseAddr(host); err == nil {
		kind = addrKind(ip)
	}
	unnamed, prefixed := false, false // prefixed: a URL prefix entry names host
	for _, r := range rs {
		prefixed = prefixed || (r.host == host && r.scheme != "")
		if !r.allows(scheme, host, port, path) {
			continue
		}
		if kind != "" && !r.named {
			unnamed = true
			continue
		}
		return nil
	}
	hp := net.JoinHostPort(host, strconv.Itoa(port))
	if unnamed {
		return refusef("%s: %s is a %s address, reached only through an entry of handlers.http.allow that writes its port, such as %s", target, host, kind, hp)
	}
	suggest := hp
	switch {
	case prefixed:
		suggest = target
	case kind == "" && (port == 80 || port == 443):
		suggest = entryHost(host)
	}
	return refusef("%s is not allowed by handlers.http.allow (entries: %s): add an entry such as %s", target, rs, suggest)
}

// String lists the entries for error messages.
func (rs httpRules) String() string { return entries(rs) }
