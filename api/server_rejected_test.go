package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/wire"
)

// chunked hides a body's length, so the client streams it chunked.
type chunked struct{ io.Reader }

func TestRejected(t *testing.T) {
	t.Parallel()
	big := `{"name":"echo","args":"` + strings.Repeat("x", wire.MaxBodyBytes) + `"}`
	const unknownID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string // in the error message
	}{
		{"unknown handler", "POST", "/api/v1/tasks", `{"name":"nope"}`, 400, `unknown handler "nope": no live daemon has it (live daemons run echo, other); check the name, or start a daemon that registers it`},
		{"empty name", "POST", "/api/v1/tasks", `{"args":{}}`, 400, "name is empty"},
		{"bad name", "POST", "/api/v1/tasks", `{"name":"a b"}`, 400, "name"},
		{"bad queue", "POST", "/api/v1/tasks", `{"name":"echo","queue":"a b"}`, 400, "queue"},
		{"bad max_attempts", "POST", "/api/v1/tasks", `{"name":"echo","max_attempts":-1}`, 400, "max_attempts"},
		{"malformed JSON", "POST", "/api/v1/tasks", `{"name":"echo",`, 400, "JSON"},
		{"syntax error", "POST", "/api/v1/tasks", `{"name":echo}`, 400, "not valid JSON"},
		{"empty body", "POST", "/api/v1/tasks", ``, 400, "empty"},
		{"array body", "POST", "/api/v1/tasks", `[{"name":"echo"}]`, 400, "JSON object"},
		{"wrong type", "POST", "/api/v1/tasks", `{"name":"echo","max_attempts":"3"}`, 400, `"max_attempts"`},
		{"unknown field", "POST", "/api/v1/tasks", `{"name":"echo","retries":2}`, 400, `unknown field "retries"`},
		{"unknown field lists all", "POST", "/api/v1/tasks", `{"name":"echo","interval":"5s"}`, 400, "the fields are name, args, in, at, after, on_parent_failure, queue, max_attempts, timeout, key, every, cron, misfire"},
		{"every and cron", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","cron":"@hourly"}`, 400, "every and cron both given"},
		{"every with in", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","in":"1m"}`, 400, "in given with every or cron: in, at, after, on_parent_failure and key do not apply to recurring tasks"},
		{"cron with at and key", "POST", "/api/v1/tasks", `{"name":"echo","cron":"@hourly","at":"2030-01-02T15:04:05Z","key":"k2"}`, 400, "at, key given with every or cron"},
		{"every with after", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","after":["` + unknownID + `"]}`, 400, "after given with every or cron"},
		{"every with policy", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","on_parent_failure":"run"}`, 400, "on_parent_failure given with every or cron"},
		{"bad every", "POST", "/api/v1/tasks", `{"name":"echo","every":"soon"}`, 400, `every "soon" is not a duration`},
		{"negative every", "POST", "/api/v1/tasks", `{"name":"echo","every":"-5s"}`, 400, "every -5s: give a positive interval"},
		{"zero every", "POST", "/api/v1/tasks", `{"name":"echo","every":"0s"}`, 400, "every 0s: give a positive interval"},
		{"short every", "POST", "/api/v1/tasks", `{"name":"echo","every":"1ms"}`, 400, "every 1ms: use 100ms or more"},
		{"blank cron", "POST", "/api/v1/tasks", `{"name":"echo","cron":"  "}`, 400, "cron is blank"},
		{"bad cron", "POST", "/api/v1/tasks", `{"name":"echo","cron":"61 * * * *"}`, 400, `cron "61 * * * *"`},
		{"cron seven fields", "POST", "/api/v1/tasks", `{"name":"echo","cron":"* * * * * * *"}`, 400, "cron"},
		{"cron panics the parser", "POST", "/api/v1/tasks", `{"name":"echo","cron":"TZ=Europe/Berlin"}`, 400, `cron "TZ=Europe/Berlin"`},
		{"cron bad zone", "POST", "/api/v1/tasks", `{"name":"echo","cron":"CRON_TZ=Mars/Olympus 0 3 * * *"}`, 400, "Mars/Olympus"},
		{"cron never fires", "POST", "/api/v1/tasks", `{"name":"echo","cron":"0 0 30 2 *"}`, 400, "never fires"},
		{"bad misfire", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","misfire":"always"}`, 400, `misfire "always": use run_once or skip`},
		{"misfire alone", "POST", "/api/v1/tasks", `{"name":"echo","misfire":"skip"}`, 400, "misfire applies only to recurring tasks"},
		{"recurring unknown handler", "POST", "/api/v1/tasks", `{"name":"nope","every":"5s"}`, 400, `unknown handler "nope"`},
		{"recurring bad queue", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","queue":"a b"}`, 400, "queue"},
		{"recurring bad timeout", "POST", "/api/v1/tasks", `{"name":"echo","every":"5s","timeout":"soon"}`, 400, `timeout "soon" is not a duration`},
		{"recurring bad max_attempts", "POST", "/api/v1/tasks", `{"name":"echo","cron":"@hourly","max_attempts":-2}`, 400, "max_attempts"},
		{"every not a string", "POST", "/api/v1/tasks", `{"name":"echo","every":5}`, 400, `field "every" is a JSON number: it must be a string`},
		{"unknown schedule", "GET", "/api/v1/schedules/S" + unknownID, "", 404, "dueq schedules"},
		{"unknown schedule cancel", "DELETE", "/api/v1/schedules/S" + unknownID, "", 404, "not found"},
		{"unknown schedule as task", "GET", "/api/v1/tasks/S" + unknownID, "", 404, "lists the active schedules"},
		{"unknown schedule cancel as task", "DELETE", "/api/v1/tasks/S" + unknownID, "", 404, "not found"},
		{"task id as schedule", "GET", "/api/v1/schedules/" + unknownID, "", 404, "not found"},
		{"wait on a schedule", "GET", "/api/v1/tasks/S" + unknownID + "/wait", "", 400, "is a schedule, which never finishes"},
		{"schedules wrong method", "POST", "/api/v1/schedules", `{"name":"echo","every":"5s"}`, 405, "use GET, HEAD"},
		{"after not a list", "POST", "/api/v1/tasks", `{"name":"echo","after":"x"}`, 400, `"after"`},
		{"after not an id", "POST", "/api/v1/tasks", `{"name":"echo","after":["a b"]}`, 400, `after: "a b" is not a task id`},
		{"parent twice", "POST", "/api/v1/tasks", `{"name":"echo","after":["` + unknownID + `","` + unknownID + `"]}`, 400, "named twice"},
		{"unknown parent", "POST", "/api/v1/tasks", `{"name":"echo","after":["` + unknownID + `"]}`, 400, "parent " + unknownID + " not found"},
		{"bad policy", "POST", "/api/v1/tasks", `{"name":"echo","on_parent_failure":"ignore"}`, 400, `on_parent_failure "ignore": use fail, run or skip`},
		{"workflow unknown handler", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo"},{"name":"b","task":"nope","after":["a"]}]}`, 400, `node b: unknown handler "nope": no live daemon has it (live daemons run echo, other)`},
		{"workflow cycle", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","after":["c"]},{"name":"b","task":"echo","after":["a"]},{"name":"c","task":"echo","after":["b"]}]}`, 400, "cycle: a -> b -> c -> a"},
		{"workflow unknown name", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","after":["ghost"]}]}`, 400, `node a: after names "ghost"`},
		{"workflow duplicate", "POST", "/api/v1/workflows", "nodes:\n- {name: a, task: echo}\n- {name: a, task: other}\n", 400, "node a is named twice"},
		{"workflow self", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","after":["a"]}]}`, 400, "node a: after names the node itself"},
		{"workflow unknown field", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","retries":2}]}`, 400, `node a: unknown field "retries"`},
		{"workflow bad duration", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","in":"soon"}]}`, 400, `node a: in "soon" is not a duration`},
		{"workflow bad policy", "POST", "/api/v1/workflows", `{"nodes":[{"name":"a","task":"echo","on_parent_failure":"x"}]}`, 400, `node a: on_parent_failure "x"`},
		{"workflow no nodes", "POST", "/api/v1/workflows", `{"nodes":[]}`, 400, "no nodes"},
		{"workflow empty body", "POST", "/api/v1/workflows", ``, 400, "the document is empty"},
		{"workflow not a document", "POST", "/api/v1/workflows", `[1,2]`, 400, "the document is a list"},
		{"workflow bad YAML", "POST", "/api/v1/workflows", "nodes:\n  - name: a\n   task: echo\n", 400, "not valid YAML"},
		{"workflow oversize", "POST", "/api/v1/workflows", big, 413, "larger than 1048576 bytes"},
		{"workflow wrong method", "GET", "/api/v1/workflows", "", 405, "use POST"},
		{"trailing garbage", "POST", "/api/v1/tasks", `{"name":"echo"} xyz`, 400, "more than one JSON value"},
		{"two objects", "POST", "/api/v1/tasks", `{"name":"echo"}{"name":"echo"}`, 400, "single JSON object"},
		{"bad in", "POST", "/api/v1/tasks", `{"name":"echo","in":"5 minutes"}`, 400, `in "5 minutes" is not a duration`},
		{"negative in", "POST", "/api/v1/tasks", `{"name":"echo","in":"-5s"}`, 400, "in -5s is negative"},
		{"bad timeout", "POST", "/api/v1/tasks", `{"name":"echo","timeout":"soon"}`, 400, "timeout"},
		{"negative timeout", "POST", "/api/v1/tasks", `{"name":"echo","timeout":"-1m"}`, 400, "negative"},
		{"in with at", "POST", "/api/v1/tasks", `{"name":"echo","in":"5s","at":"2030-01-02T15:04:05Z"}`, 400, "in and at"},
		{"bad at", "POST", "/api/v1/tasks", `{"name":"echo","at":"tomorrow"}`, 400, "RFC 3339"},
		{"bad args", "POST", "/api/v1/tasks", `{"name":"echo","args":{"a":}}`, 400, "JSON"},
		{"oversize body", "POST", "/api/v1/tasks", big, 413, "larger than 1048576 bytes"},
		{"unknown id", "GET", "/api/v1/tasks/" + unknownID, "", 404, "not found"},
		{"unknown id wait", "GET", "/api/v1/tasks/" + unknownID + "/wait?timeout=1s", "", 404, "not found"},
		{"unknown id cancel", "DELETE", "/api/v1/tasks/" + unknownID, "", 404, "not found"},
		{"bad wait timeout", "GET", "/api/v1/tasks/" + unknownID + "/wait?timeout=forever", "", 400, "not a duration"},
		{"negative wait timeout", "GET", "/api/v1/tasks/" + unknownID + "/wait?timeout=-1s", "", 400, "out of range"},
		{"long wait timeout", "GET", "/api/v1/tasks/" + unknownID + "/wait?timeout=11m", "", 400, "out of range"},
		{"bad state", "GET", "/api/v1/tasks?state=done", "", 400, `unknown state "done"`},
		{"bad limit", "GET", "/api/v1/tasks?limit=many", "", 400, "limit"},
		{"zero limit", "GET", "/api/v1/tasks?limit=0", "", 400, "1 to 10000"},
		{"huge limit", "GET", "/api/v1/tasks?limit=10001", "", 400, "1 to 10000"},
		{"negative limit", "GET", "/api/v1/tasks?limit=-1", "", 400, "1 to 10000"},
		{"bad queue", "GET", "/api/v1/tasks?queue=no%20spaces", "", 400, `queue "no spaces": a queue name is 1-64 letters, digits or _.-`},
		{"long queue", "GET", "/api/v1/tasks?queue=" + strings.Repeat("q", 65), "", 400, "a queue name is 1-64 letters"},
		{"unknown list parameter", "GET", "/api/v1/tasks?queu=mail", "", 400, `unknown query parameter "queu": GET /api/v1/tasks takes state, name, queue, limit`},
		{"repeated list parameter", "GET", "/api/v1/tasks?queue=a&queue=b", "", 400, "query parameter queue is given 2 times: give it once"},
		{"unknown path", "GET", "/api/v2/tasks", "", 404, "no endpoint GET /api/v2/tasks"},
		{"wrong method", "PUT", "/api/v1/tasks", `{"name":"echo"}`, 405, "method PUT is not allowed on /api/v1/tasks: use GET, HEAD, POST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.idleDaemon(t) // a live daemon, whose handlers decide
			// One task exists, so rejected requests meet a populated Redis.
			_, err := e.cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo", In: "1h", Key: "k"})
			require.NoError(t, err)
			before := keys(e)
			status, b := e.call(t, c.method, c.path, c.body)
			require.Equal(t, c.status, status, "%s", b)
			require.Contains(t, errorMessage(t, b), c.want)
			require.Equal(t, before, keys(e), "a rejected request wrote to Redis")
		})
	}

	t.Run("oversize chunked body", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		before := keys(e)
		for _, path := range []string{"/api/v1/tasks", "/api/v1/workflows"} {
			req, err := http.NewRequest("POST", e.ts.URL+path, chunked{strings.NewReader(big)})
			require.NoError(t, err)
			status, b := e.send(t, req)
			require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s: %s", path, b)
			require.Contains(t, errorMessage(t, b), "larger than")
			require.Equal(t, before, keys(e))
		}
	})
}
