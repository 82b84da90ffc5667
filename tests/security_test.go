package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// selfSignedCert writes a certificate and key for 127.0.0.1 into dir.
func selfSignedCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dueq test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key
}

func TestRedisOverTLS(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		startRedis(t) // skips, or fails under DUEQ_REQUIRE_REDIS=1
		return
	}
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	port := testutil.FreePort(t)
	cmd := exec.Command(path, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no",
		"--dir", dir, "--save", "", "--appendonly", "no", "--requirepass", "tls-pw")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	url := "rediss://:tls-pw@127.0.0.1:" + strconv.Itoa(port) + "/0?skip_verify=true"
	d := startDaemon(t, url)
	out := mustDueq(t, d.URL, "submit", "echo", `{"over":"tls"}`, "--wait")
	require.Contains(t, out, `"over":"tls"`)
	require.NotContains(t, d.out.String(), "tls-pw", "the password is never logged")
}

func TestAStormOfMalformedRequestsDoesNoHarm(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	bodies := []string{`{`, `[]`, `{"name":1}`, `{"name":"echo","in":"-1s"}`, `{"name":"echo","at":"soon"}`,
		strings.Repeat("[", 100000), `{"name":"echo","args":` + strings.Repeat(`{"a":`, 5000) + `1`}
	for i := range 1500 {
		resp, err := http.Post(d.URL+"/api/v1/tasks", "application/json", strings.NewReader(bodies[i%len(bodies)]))
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 500, "body %d", i%len(bodies))
		require.GreaterOrEqual(t, resp.StatusCode, 400)
	}
	big := strings.Repeat("x", 4<<20)
	resp, err := http.Post(d.URL+"/api/v1/workflows", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, http.StatusOK, healthz(d.URL))
	out := mustDueq(t, d.URL, "submit", "echo", `{"still":"fine"}`, "--wait")
	require.Contains(t, out, "fine")
}
