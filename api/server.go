// Package api is dueq's HTTP API server: the Server that `dueq serve` runs
// in front of a client.Client. Requests and answers are JSON, of the
// types of package wire; every error answer is a 4xx or 5xx status with a
// body {"error": "..."} that says what to fix. Its Go client is package
// apiclient, which links neither this package nor the engine.
//
// The server binds to loopback by default. On any other address a token is
// required and every request must carry "Authorization: Bearer TOKEN".
// Without a token it only answers requests addressed to a loopback name, and
// it rejects cross-origin browser requests that change state, so a web page
// cannot submit tasks through a browser on the same machine.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Config configures a Server. WithDefaults fills in the zero fields.
type Config struct {
	// Addr is the host:port to listen on (config key http.addr). Defaults to
	// 127.0.0.1:7420. Port 0 picks a free port; Server.Addr tells which.
	// A host that is not loopback (127.0.0.0/8, ::1, localhost), including an
	// empty host such as ":7420", requires Token.
	Addr string
	// Token (config key http.token), when set, must be sent by every request
	// as "Authorization: Bearer TOKEN". Defaults to empty: no token, which
	// is allowed only on a loopback Addr. It is never logged.
	Token string
	// Logger receives the server's logs (server errors, listen failures).
	// Defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, serves GET /metrics (Prometheus), behind the token
	// like the API. Defaults to none: /metrics is then 404.
	Metrics http.Handler
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = wire.DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate checks a defaulted Config; its errors name the config key to fix.
func (c Config) validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("http.addr %q: %w: use host:port, such as %s", c.Addr, err, wire.DefaultAddr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("http.addr %q: port %q is not a number from 0 to 65535", c.Addr, port)
	}
	for _, r := range c.Token {
		if r <= ' ' || r >= 0x7f {
			return errors.New("http.token holds a space, control or non-ASCII character: use printable ASCII only, since it is sent in an HTTP header")
		}
	}
	if c.Token == "" && !loopbackHost(host) {
		return fmt.Errorf("http.addr %q is not a loopback address, so http.token is required: set http.token to a secret, or bind http.addr to a loopback address such as %s", c.Addr, wire.DefaultAddr)
	}
	return nil
}

// loopbackHost reports whether host (without port) names this machine only:
// localhost, or an IP address in 127.0.0.0/8 or ::1. An empty host (every
// interface) is not loopback.
func loopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server serves the HTTP API of one daemon over a client.Client. Create it
// with New; serve it with Start and Stop, or mount Handler in a server of
// your own. It is safe for concurrent use.
//
// Submits follow the handler rule (handler_check.go) against the daemons alive in
// the namespace, which the Server reads at most once a second (it keeps
// them for a second, so a submit costs no extra round trip to Redis): a
// task whose handler no live daemon has is refused (400) when daemons are
// alive; one that no live daemon serving its queue can run is accepted with
// a warning (the answer's "warning" field and the wire.WarningHeader).
type Server struct {
	c       *client.Client
	reg     *tasks.Registry
	daemons *daemonCache
	health  func(context.Context) error
	cfg     Config
	log     *slog.Logger
	token   [sha256.Size]byte // hash of cfg.Token, compared in constant time
	csrf    *http.CrossOriginProtection
	mux     *http.ServeMux
	srv     *http.Server

	// quit is canceled by Stop; long polls answer at once when it ends.
	quit       context.Context
	cancelQuit context.CancelFunc

	mu        sync.Mutex
	ln        net.Listener
	started   bool
	stopped   bool
	serveDone chan struct{}
}

// New returns a Server that submits to c, checks task names against the
// handlers of the live daemons (see Server; reg, this daemon's registry,
// says why a handler such as shell is off), and answers GET /healthz with
// health (nil: always healthy). It validates cfg (after WithDefaults); the
// error names the config key to fix, e.g. a non-loopback http.addr without
// http.token.
func New(c *client.Client, reg *tasks.Registry, health func(context.Context) error, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errors.New("api: no scheduler client")
	}
	if reg == nil {
		return nil, errors.New("api: no handler registry")
	}
	if health == nil {
		health = func(context.Context) error { return nil }
	}
	s := &Server{c: c, reg: reg, health: health, cfg: cfg, log: cfg.Logger,
		daemons: &daemonCache{read: c.Daemons, now: time.Now},
		csrf:    http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if cfg.Token != "" {
		s.token = sha256.Sum256([]byte(cfg.Token))
	}
	s.quit, s.cancelQuit = context.WithCancel(context.Background())
	s.routes()
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      wire.MaxWait + time.Minute, // long polls last up to wire.MaxWait
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the API's handler: authentication, then the routes of
// the HTTP API. The Server itself is that handler.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP checks the token (when set), the Host of token-less requests and
// cross-origin requests, then routes. Unknown paths and methods get JSON
// errors too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	static := r.Method == http.MethodGet && (r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/"))
	if s.cfg.Token != "" && !static && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dueq"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong token: send the header \"Authorization: Bearer TOKEN\" with the daemon's http.token (dueq commands: --token or DUEQ_TOKEN)")
		return
	}
	if s.cfg.Token == "" {
		if host := hostOnly(r.Host); !loopbackHost(host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not a loopback name: this daemon has no http.token, so it only answers requests addressed to 127.0.0.1, ::1 or localhost; set http.token to serve other names", host))
			return
		}
	}
	if err := s.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross-origin browser request refused: call the API from a program (curl, the dueq CLI), not from a web page of another origin")
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries the configured bearer token. The
// event stream may carry it as ?access_token=, since a browser's
// EventSource cannot send headers.
func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if q := r.URL.Query().Get("access_token"); !ok && q != "" && r.URL.Path == "/api/v1/events" {
		scheme, tok, ok = "Bearer", q, true
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// noRoute answers a path or method the API does not serve with a JSON 404
// or 405, keeping the Allow header the mux computed.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow))
		return
	}
	notFound(w, r)
}

// notFound answers a path that names nothing with a JSON 404.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s: the API serves /api/v1/tasks, /api/v1/tasks/{id}, /api/v1/tasks/{id}/wait, /api/v1/tasks/{id}/retry, /api/v1/workflows, /api/v1/schedules, /api/v1/schedules/{id}, /api/v1/stats, /api/v1/events, /healthz, /metrics and the dashboard at /", r.Method, r.URL.Path))
}

// statusProbe records the status and headers a handler would write.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
func (p *statusProbe) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

// Listen binds Config.Addr without serving yet, so that a daemon finds an
// address in use (or a bad host) before it starts anything else; Start then
// serves on it. Connections that arrive meanwhile wait in the kernel's
// backlog. The error names the address and the key to fix. Calling Listen
// again, or after Start, does nothing.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listenLocked(ctx)
}

func (s *Server) listenLocked(ctx context.Context) error {
	if s.stopped {
		return errors.New("api: server already stopped: create a new one with api.New")
	}
	if s.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http.addr %s: cannot listen there: %w: stop what listens there, or give a free address in http.addr (dueq serve --http HOST:PORT, DUEQ_HTTP_ADDR)", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Start serves on Config.Addr in the background until Stop, listening
// first unless Listen did. A listen error (address in use, bad host) is
// returned at once. Start may be called once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("api: server already started or stopped: create a new one with api.New")
	}
	if err := s.listenLocked(ctx); err != nil {
		return err
	}
	ln := s.ln
	s.started, s.serveDone = true, make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP API stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("HTTP API listening", "addr", ln.Addr().String(), "token", s.cfg.Token != "")
	return nil
}

// Addr returns the address the server listens on (with the real port when
// Config.Addr asked for port 0), or Config.Addr before Listen or Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Stop stops accepting connections, answers pending long polls at once with
// the current record, and waits for requests in flight to finish. If ctx
// ends first it closes the remaining connections and returns ctx.Err().
// Stop is safe to call twice, and before Start (it closes the listener of
// Listen).
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	started, ln := s.started, s.ln
	s.mu.Unlock()
	s.cancelQuit()
	if !started {
		if ln != nil {
			_ = ln.Close()
		}
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.serveDone
	return err
}
