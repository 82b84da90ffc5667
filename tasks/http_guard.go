package tasks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// httpGuard holds what the http handler may reach and checks it twice:
// each URL (the task's and every redirect's) against the rules, and each
// address the handler dials, after DNS, against the rule for loopback,
// link-local and private addresses and against the daemon's own addresses.
type httpGuard struct {
	rules httpRules
	// own returns the daemon's own addresses, host:port to what each is;
	// nil: none.
	own func() map[string]string
}

// refusal is a request the http handler refuses to make; its text says why
// and what to change.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refusef(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// client returns the http.Client of one handler. It connects directly,
// never through HTTP_PROXY or HTTPS_PROXY: through a proxy, the address
// reached could not be checked.
func (g *httpGuard) client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: g.checkRedirect,
		Timeout:       10 * time.Minute,
	}
}

// checkRedirect follows at most maxRedirects redirects, each to a URL the
// rules allow.
func (g *httpGuard) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if err := g.rules.checkURL(req.URL); err != nil {
		return refusef("redirect refused: %v", err)
	}
	return nil
}

// dial connects to addr (host:port, as in the URL) and checks every address
// it tries, after DNS, before connecting to it.
func (g *httpGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("port %q is not a number", p)
	}
	host = normHost(host)
	named := false // an entry writes this host and port
	for _, r := range g.rules {
		named = named || (r.named && r.host == host && r.hasPort(port))
	}
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
			return g.checkDialled(ctx, host, address, named)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// checkDialled checks address, the ip:port about to be connected to for
// host: never one of the daemon's own; a loopback, link-local or private
// one only when named.
func (g *httpGuard) checkDialled(ctx context.Context, host, address string, named bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refusef("cannot check the address %q before connecting: %v", address, err)
	}
	ip, port := ap.Addr().Unmap().WithZone(""), int(ap.Port())
	at := netip.AddrPortFrom(ip, ap.Port()).String()
	if what := g.ownAddr(ctx, ip, port); what != "" {
		return refusef("%s is %s: the http handler never reaches it, whatever handlers.http.allow says", at, what)
	}
	kind := addrKind(ip)
	if kind == "" || named {
		return nil
	}
	hp := net.JoinHostPort(host, strconv.Itoa(port))
	if host == ip.String() {
		return refusef("%s is a %s address, reached only through an entry of handlers.http.allow that writes its port, such as %s", ip, kind, hp)
	}
	return refusef("%s resolved to %s, a %s address, reached only through an entry of handlers.http.allow that writes its port, such as %s", host, ip, kind, hp)
}

// ownAddr says what ip:port is when it reaches one of the daemon's own
// addresses ("this daemon's Redis (127.0.0.1:6379)"), else "". An own
// address whose name does not resolve counts as reached: better refuse than
// reach the daemon's Redis.
func (g *httpGuard) ownAddr(ctx context.Context, ip netip.Addr, port int) string {
	if g.own == nil {
		return ""
	}
	for addr, what := range g.own() {
		h, p, err := net.SplitHostPort(addr)
		if n, _ := strconv.Atoi(p); err != nil || n != port || n == 0 {
			continue
		}
		var candidates []netip.Addr
		switch a, err := netip.ParseAddr(h); {
		case err == nil:
			candidates = []netip.Addr{a.Unmap().WithZone("")}
		case h == "":
			candidates = []netip.Addr{netip.IPv4Unspecified()}
		default:
			resolved, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
			if err != nil {
				return fmt.Sprintf("%s (%s, whose name does not resolve now: %v)", what, addr, err)
			}
			for _, a := range resolved {
				candidates = append(candidates, a.Unmap().WithZone(""))
			}
		}
		for _, a := range candidates {
			if sameListener(a, ip) {
				return fmt.Sprintf("%s (%s)", what, addr)
			}
		}
	}
	return ""
}

// sameListener reports whether connecting to ip may reach a listener on
// own. It errs on the side of yes: an address of this machine reaches a
// listener on all interfaces, and a loopback or unspecified address reaches
// any listener of this machine.
func sameListener(own, ip netip.Addr) bool {
	switch {
	case own == ip:
		return true
	case own.IsUnspecified():
		return localAddr(ip)
	case ip.IsLoopback() || ip.IsUnspecified():
		return localAddr(own)
	}
	return false
}

// localAddr reports whether ip is an address of this machine: loopback,
// unspecified, or one of its interfaces'.
func localAddr(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: take it for local
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// addrKind names the kind of ip that the http handler reaches only through
// an entry that writes its port: loopback, link-local, private or
// unspecified (which reaches this machine); "" for any other address.
func addrKind(ip netip.Addr) string {
	ip = ip.Unmap()
	if b := ip.As16(); ip.Is6() && [12]byte(b[:12]) == [12]byte{} && !ip.IsLoopback() && !ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte(b[12:])) // IPv4-compatible ::a.b.c.d: judged as a.b.c.d
	}
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsPrivate():
		return "private"
	}
	return ""
}
