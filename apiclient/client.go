// Package apiclient is the Go client of dueq's HTTP API: what the dueq CLI
// uses to talk to a daemon (`dueq serve`). It links neither the engine
// (package scheduler) nor a Redis client: requests and answers are the
// types of packages wire and tasks, and errors match the same sentinels
// (wire.ErrNotFound, tasks.ErrInvalid, ...) as the engine's, so code works
// the same over HTTP and over Redis.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// DefaultServer is the base URL of a daemon's API started with the
// defaults (wire.DefaultAddr).
const DefaultServer = "http://" + wire.DefaultAddr

// ErrUnreachable is wrapped by the Client's errors when no daemon answers at
// its BaseURL (connection refused, unknown host, dial timeout).
var ErrUnreachable = errors.New("dueq daemon not reachable")

// Client talks to a daemon's HTTP API; the dueq CLI commands use it. Its
// zero value talks to DefaultServer without a token using
// http.DefaultClient. It is safe for concurrent use.
//
// Answers other than 2xx are returned as *Error; errors.Is matches them
// against tasks.ErrInvalid, wire.ErrNotFound, wire.ErrFinished and
// wire.ErrNotRetryable.
type Client struct {
	// BaseURL is the daemon's address, e.g. http://127.0.0.1:7420 (the
	// default when empty).
	BaseURL string
	// Token is sent as "Authorization: Bearer TOKEN" when not empty.
	Token string
	// HTTP sends the requests. Defaults to http.DefaultClient. Its Timeout,
	// if any, must exceed the long polls of Wait (up to wire.MaxWait).
	HTTP *http.Client
	// Warn, when set, is called with each warning of a request the daemon
	// accepted (wire.WarningHeader), before the call returns: Submit,
	// SubmitSchedule or SubmitWorkflow of a task that no live daemon
	// serving its queue can run as things stand. The request
	// succeeded all the same. Defaults to nil: warnings are dropped. The
	// dueq CLI prints them on stderr.
	Warn func(warning string)
}

// Submit submits a task and returns its record. With a Key used before, it
// returns the first task's record. A task whose handler no live daemon has
// is refused (an *Error with Status 400) while daemons are alive; one no
// live daemon serving its queue can run is accepted, and its warning goes
// to Warn. A recurring request (Every or Cron set)
// goes to SubmitSchedule instead; Submit refuses it without sending it.
func (c *Client) Submit(ctx context.Context, req wire.SubmitRequest) (*tasks.Task, error) {
	if req.Recurring() {
		return nil, fmt.Errorf("%w: every or cron given: submit a recurring task with SubmitSchedule", tasks.ErrInvalid)
	}
	var t tasks.Task
	if err := c.do(ctx, http.MethodPost, "/api/v1/tasks", req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// SubmitWorkflow submits a workflow document, JSON or YAML, sent
// as is, and returns the workflow's id and each node's name mapped to its
// task id. The daemon validates the document whole and writes all of its
// tasks or none: a rejected document gives an *Error with Status 400
// (errors.Is tasks.ErrInvalid) that names the node at fault. deps.Parse
// runs the same checks locally, except that of the live daemons' handlers
// (as for Submit: a refusal names the node, and each node's warning, "node
// NAME: ...", goes to Warn).
func (c *Client) SubmitWorkflow(ctx context.Context, doc []byte) (id string, ids map[string]string, err error) {
	ctype := "application/yaml"
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		ctype = "application/json"
	}
	a := &workflowIDs{}
	if err := c.do(ctx, http.MethodPost, "/api/v1/workflows", rawBody{data: doc, contentType: ctype}, a); err != nil {
		return "", nil, err
	}
	return a.id, a.ids, nil
}

// workflowIDs reads the answer of POST /api/v1/workflows: the body and
// the workflow's id in its header.
type workflowIDs struct {
	id  string
	ids map[string]string
}

func (a *workflowIDs) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &a.ids) }
func (a *workflowIDs) readHeader(h http.Header)     { a.id = h.Get(wire.WorkflowHeader) }

// GetWorkflow returns workflow id's nodes and their tasks.
func (c *Client) GetWorkflow(ctx context.Context, id string) (*wire.WorkflowAnswer, error) {
	var a wire.WorkflowAnswer
	if err := c.do(ctx, http.MethodGet, "/api/v1/workflows/"+url.PathEscape(id), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Get returns the record of task id.
func (c *Client) Get(ctx context.Context, id string) (*tasks.Task, error) {
	var t tasks.Task
	if err := c.do(ctx, http.MethodGet, "/api/v1/tasks/"+url.PathEscape(id), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Wait waits up to timeout for task id to finish and returns its record.
// When the timeout passes first it returns the current record and no error:
// the caller tells by t.State.Finished(). A timeout of 0 or less waits until
// the task finishes or ctx ends. Waits longer than wire.MaxWait are made of
// several long polls. When ctx ends it returns the last record read, if
// any, and ctx's error.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (*tasks.Task, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	var last *tasks.Task
	for {
		poll := wire.MaxWait
		if !deadline.IsZero() {
			poll = min(time.Until(deadline), wire.MaxWait).Truncate(time.Millisecond)
		}
		if poll < 0 {
			poll = 0
		}
		var t tasks.Task
		path := "/api/v1/tasks/" + url.PathEscape(id) + "/wait?timeout=" + url.QueryEscape(poll.String())
		if err := c.do(ctx, http.MethodGet, path, nil, &t); err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return nil, err
		}
		last = &t
		if t.State.Finished() || (!deadline.IsZero() && !time.Now().Before(deadline)) || poll == 0 {
			return last, nil
		}
	}
}

// Cancel cancels task id and returns its record. A task that had already
// finished gives an *Error with Status 409 (errors.Is wire.ErrFinished).
func (c *Client) Cancel(ctx context.Context, id string) (*tasks.Task, error) {
	var t tasks.Task
	if err := c.do(ctx, http.MethodDelete, "/api/v1/tasks/"+url.PathEscape(id), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Retry runs a failed or canceled task again, now, with a fresh set of
// attempts, and returns its new record (state scheduled). Any other state,
// and a task that never ran because of its parents, gives an *Error with
// Status 409 (errors.Is wire.ErrNotRetryable); an unknown id gives 404
// (errors.Is wire.ErrNotFound).
func (c *Client) Retry(ctx context.Context, id string) (*tasks.Task, error) {
	var t tasks.Task
	if err := c.do(ctx, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(id)+"/retry", nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// List returns the tasks opts selects, in the order of client.Client.List:
// those in opts.State (empty: any), of handler opts.Name (empty: any), in
// opts.Queue (empty: any), at most opts.Limit of them (0: the server's
// default, 100). A bad filter gives an *Error with Status 400.
func (c *Client) List(ctx context.Context, opts wire.ListOptions) ([]*tasks.Task, error) {
	q := url.Values{}
	if opts.State != "" {
		q.Set("state", string(opts.State))
	}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Queue != "" {
		q.Set("queue", opts.Queue)
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	path := "/api/v1/tasks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Tasks []*tasks.Task `json:"tasks"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// Stats returns the counts by state and queue, the daemons alive with
// their queues and handlers, and the stranded tasks (wire.Stats).
func (c *Client) Stats(ctx context.Context) (*wire.Stats, error) {
	var st wire.Stats
	if err := c.do(ctx, http.MethodGet, "/api/v1/stats", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Queues lists the queues that have had tasks or are paused, by name, with
// their counts and paused state (GET /api/v1/queues).
func (c *Client) Queues(ctx context.Context) ([]wire.Queue, error) {
	var qs []wire.Queue
	if err := c.do(ctx, http.MethodGet, "/api/v1/queues", nil, &qs); err != nil {
		return nil, err
	}
	return qs, nil
}

// PauseQueue stops every daemon from claiming queue's tasks until
// ResumeQueue, and returns the queue (POST /api/v1/queues/{queue}/pause).
func (c *Client) PauseQueue(ctx context.Context, queue string) (*wire.Queue, error) {
	return c.setPaused(ctx, queue, "pause")
}

// ResumeQueue lets the daemons claim queue's tasks again, and returns the
// queue (POST /api/v1/queues/{queue}/resume).
func (c *Client) ResumeQueue(ctx context.Context, queue string) (*wire.Queue, error) {
	return c.setPaused(ctx, queue, "resume")
}

func (c *Client) setPaused(ctx context.Context, queue, verb string) (*wire.Queue, error) {
	var q wire.Queue
	if err := c.do(ctx, http.MethodPost, "/api/v1/queues/"+url.PathEscape(queue)+"/"+verb, nil, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// Health returns nil when the daemon answers GET /healthz with 200, else an
// error: *Error with Status 503 and the reason when it is unhealthy.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// base returns BaseURL without a trailing slash, or DefaultServer.
func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultServer
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// rawBody is a request body sent as is, with its content type.
type rawBody struct {
	data        []byte
	contentType string
}

// do sends one request with body (when not nil) as JSON, or as is when it
// is a rawBody, and decodes a 2xx answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var (
		rd    io.Reader
		ctype string
	)
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ctype = bytes.NewReader(b.data), b.contentType
	default:
		js, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode the request: %w", method, path, err)
		}
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	base := c.base()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("server URL %q: %w: pass a URL such as %s", base, err, DefaultServer)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if unreachable(err) {
			return fmt.Errorf("%w at %s: start it with `dueq serve` or pass --server: %w", ErrUnreachable, base, err)
		}
		return fmt.Errorf("%s %s%s: %w", method, base, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s%s: read the answer: %w", method, base, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(resp.StatusCode, data)
	}
	if c.Warn != nil {
		for _, w := range resp.Header.Values(wire.WarningHeader) {
			c.Warn(w)
		}
	}
	if out == nil {
		return nil
	}
	if hr, ok := out.(interface{ readHeader(http.Header) }); ok {
		hr.readHeader(resp.Header)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s%s: the answer is not what a dueq daemon sends (%w): check --server", method, base, path, err)
	}
	return nil
}

// unreachable reports whether err means nothing answered at the address.
func unreachable(err error) bool {
	var (
		op  *net.OpError
		dns *net.DNSError
	)
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}
