package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
)

func TestToken(t *testing.T) {
	t.Parallel()
	e := setup(t, api.Config{Token: "s3cret-token"})
	for _, path := range []string{"/healthz", "/api/v1/stats", "/api/v1/tasks"} {
		status, b := e.call(t, "GET", path, "")
		require.Equal(t, http.StatusUnauthorized, status, path)
		require.Contains(t, errorMessage(t, b), "token")
		status, _ = e.call(t, "GET", path, "", "Authorization", "Bearer wrong")
		require.Equal(t, http.StatusUnauthorized, status, path)
		status, _ = e.call(t, "GET", path, "", "Authorization", "Basic s3cret-token")
		require.Equal(t, http.StatusUnauthorized, status, path)
		status, b = e.call(t, "GET", path, "", "Authorization", "Bearer s3cret-token")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, b)
	}
	before := keys(e)
	status, _ := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, before, keys(e))
	// With a token, requests may name any host.
	status, _ = e.call(t, "GET", "/healthz", "", "Authorization", "Bearer s3cret-token", "Host", "dueq.example.com")
	require.Equal(t, http.StatusOK, status)
}

func TestNewChecksAddr(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, addr := range []string{":7420", "0.0.0.0:7420", "10.1.2.3:7420", "[::]:7420", "example.com:7420"} {
		_, err := api.New(e.sc, e.reg, nil, api.Config{Addr: addr})
		require.Error(t, err, addr)
		require.Contains(t, err.Error(), "http.addr", addr)
		require.Contains(t, err.Error(), "http.token", addr)
		_, err = api.New(e.sc, e.reg, nil, api.Config{Addr: addr, Token: "t"})
		require.NoError(t, err, addr)
	}
	for _, addr := range []string{"", "127.0.0.1:7420", "127.0.0.2:0", "[::1]:0", "localhost:0", "LOCALHOST:1"} {
		_, err := api.New(e.sc, e.reg, nil, api.Config{Addr: addr})
		require.NoError(t, err, addr)
	}
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"} {
		_, err := api.New(e.sc, e.reg, nil, api.Config{Addr: addr})
		require.ErrorContains(t, err, "http.addr", addr)
	}
	_, err := api.New(e.sc, e.reg, nil, api.Config{Token: "has space"})
	require.ErrorContains(t, err, "http.token")
	_, err = api.New(nil, e.reg, nil, api.Config{})
	require.Error(t, err)
}

func TestBrowserGuards(t *testing.T) {
	t.Parallel()
	e := setup(t)
	before := keys(e)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`, "Host", "attacker.example:7420")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, errorMessage(t, b), "http.token")
	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, errorMessage(t, b), "cross-origin")
	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`, "Origin", "https://attacker.example")
	require.Equal(t, http.StatusForbidden, status, "%s", b)
	require.Equal(t, before, keys(e))
	status, _ = e.call(t, "GET", "/healthz", "", "Host", "localhost:7420")
	require.Equal(t, http.StatusOK, status)
}
