package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()

	tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", Args: []byte(`{"a":1}`), In: "1h", Queue: "q", MaxAttempts: 2, Timeout: "3s"})
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, tk.State)
	require.Equal(t, "q", tk.Queue)
	require.Equal(t, 2, tk.MaxAttempts)
	require.Equal(t, 3*time.Second, tk.Timeout)

	got, err := e.cl.Get(ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk.ID, got.ID)
	require.JSONEq(t, `{"a":1}`, string(got.Args))

	list, err := e.cl.List(ctx, wire.ListOptions{State: tasks.Scheduled, Name: "echo", Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, tk.ID, list[0].ID)
	list, err = e.cl.List(ctx, wire.ListOptions{Name: "other"})
	require.NoError(t, err)
	require.Empty(t, list)

	st, err := e.cl.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.States[tasks.Scheduled])
	require.Equal(t, int64(1), st.Queues["q"].Scheduled)

	canceled, err := e.cl.Cancel(ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, canceled.State)

	_, err = e.cl.Cancel(ctx, tk.ID)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusConflict, apiErr.Status)
	require.ErrorIs(t, err, wire.ErrFinished)
	require.Contains(t, err.Error(), "HTTP 409")

	require.NoError(t, e.cl.Health(ctx))
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.idleDaemon(t)
	ctx := context.Background()

	_, err := e.cl.Get(ctx, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
	require.ErrorIs(t, err, wire.ErrNotFound)
	require.NotErrorIs(t, err, tasks.ErrInvalid)

	_, err = e.cl.Submit(ctx, wire.SubmitRequest{Name: "nope"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, `unknown handler "nope"`)

	_, err = e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", In: "1h", At: "2030-01-02T15:04:05Z"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "in and at")

	_, err = e.cl.List(ctx, wire.ListOptions{State: "finished"})
	require.ErrorContains(t, err, `unknown state "finished"`)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
}

func TestClientIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	req := wire.SubmitRequest{Name: "echo", In: "1h", Key: "once"}
	a, err := e.cl.Submit(ctx, req)
	require.NoError(t, err)
	b, err := e.cl.Submit(ctx, req)
	require.NoError(t, err)
	require.Equal(t, a.ID, b.ID)
	require.Equal(t, "once", b.Key)
}

func TestClientWait(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	ctx := context.Background()

	tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", Args: []byte(`[1,2]`)})
	require.NoError(t, err)
	done, err := e.cl.Wait(ctx, tk.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `{"args":[1,2]}`, string(done.Result))

	later, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", In: "1h"})
	require.NoError(t, err)
	cur, err := e.cl.Wait(ctx, later.ID, 30*time.Millisecond)
	require.NoError(t, err, "a timeout is not an error: the state tells")
	require.Equal(t, tasks.Scheduled, cur.State)

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err = e.cl.Wait(short, later.ID, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientToken(t *testing.T) {
	t.Parallel()
	e := setup(t, api.Config{Token: "tok"})
	ctx := context.Background()
	require.NoError(t, e.cl.Health(ctx))
	_, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo"})
	require.NoError(t, err)

	for _, token := range []string{"", "wrong"} {
		bad := &apiclient.Client{BaseURL: e.ts.URL, Token: token}
		err := bad.Health(ctx)
		var apiErr *apiclient.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusUnauthorized, apiErr.Status)
		require.Contains(t, apiErr.Message, "--token")
		require.NotContains(t, err.Error(), "tok\"")
	}
}

// GET /api/v1/tasks?queue= and Client.List's Queue list one queue's tasks,
// with the other filters; an empty queue parameter is no filter.
func TestListByQueue(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	mail, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", In: "1h", Queue: "mail"})
	require.NoError(t, err)
	mailOther, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "other", In: "2h", Queue: "mail"})
	require.NoError(t, err)
	dflt, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", In: "1h"})
	require.NoError(t, err)

	ids := func(opts wire.ListOptions) []string {
		t.Helper()
		list, err := e.cl.List(ctx, opts)
		require.NoError(t, err)
		out := []string{}
		for _, tk := range list {
			out = append(out, tk.ID)
		}
		return out
	}
	require.Equal(t, []string{mail.ID, mailOther.ID}, ids(wire.ListOptions{Queue: "mail"}))
	require.Equal(t, []string{dflt.ID}, ids(wire.ListOptions{Queue: "default"}))
	require.Equal(t, []string{mailOther.ID}, ids(wire.ListOptions{Queue: "mail", Name: "other", State: tasks.Scheduled}))
	require.Equal(t, []string{mail.ID}, ids(wire.ListOptions{Queue: "mail", Limit: 1}))
	require.Empty(t, ids(wire.ListOptions{Queue: "nosuch"}))

	status, body := e.call(t, "GET", "/api/v1/tasks?queue=mail&state=scheduled&name=echo&limit=5", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var answer struct {
		Tasks []tasks.Task `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(body, &answer))
	require.Len(t, answer.Tasks, 1)
	require.Equal(t, mail.ID, answer.Tasks[0].ID)
	require.Equal(t, "mail", answer.Tasks[0].Queue)

	status, body = e.call(t, "GET", "/api/v1/tasks?queue=", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.NoError(t, json.Unmarshal(body, &answer))
	require.Len(t, answer.Tasks, 3, "an empty queue is no filter")

	_, err = e.cl.List(ctx, wire.ListOptions{Queue: "no spaces"})
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "a queue name is 1-64 letters")
}
