// Package alertstest gives tests the real peers of alert notifications:
// a Mailpit SMTP server whose API lists what it received, and a webhook
// receiver that checks each body's signature.
package alertstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/webhook"
)

// Mail is a running Mailpit: SMTP at Addr (STARTTLS required, on a
// certificate that Pool trusts; any login accepted), its API at API.
type Mail struct {
	Addr string
	API  string
	Pool *x509.CertPool
}

// Mailpit starts Mailpit (USAGELOG_TEST_MAILPIT, which scripts/test.sh
// installs, or mailpit on PATH) for the test. The test fails, never
// skips, without it.
func Mailpit(t testing.TB) *Mail {
	t.Helper()
	bin := os.Getenv("USAGELOG_TEST_MAILPIT")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("mailpit"); err != nil {
			t.Fatal("no Mailpit: set USAGELOG_TEST_MAILPIT (scripts/test.sh installs it)")
		}
	}
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	smtpAddr, httpAddr := port(), port()
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", httpAddr, "--database", filepath.Join(dir, "mail.db"),
		"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls", "--smtp-auth-accept-any", "--quiet")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	m := &Mail{Addr: smtpAddr, API: "http://" + httpAddr, Pool: pool}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(m.API + "/api/v1/messages"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Mailpit did not answer")
		}
	}
	return m
}

// Message is a message as Mailpit's list gives it.
type Message struct {
	ID      string
	Subject string
	To      []struct{ Address string }
	Bcc     []struct{ Address string }
}

// Messages lists what Mailpit received, newest first.
func (m *Mail) Messages(t testing.TB) []Message {
	t.Helper()
	var list struct{ Messages []Message }
	GetJSON(t, m.API+"/api/v1/messages", &list)
	return list.Messages
}

// WaitMessages waits, up to 10 seconds, until Mailpit holds n messages or
// more, and returns them newest first.
func (m *Mail) WaitMessages(t testing.TB, n int) []Message {
	t.Helper()
	got := m.MessagesTo(t, "", n)
	if len(got) < n {
		t.Fatalf("Mailpit holds %d messages, want %d: %+v", len(got), n, got)
	}
	return got
}

// MessagesTo lists the messages whose one recipient is to ("": all of
// them), newest first, once there are n or more or 10 seconds have
// passed.
func (m *Mail) MessagesTo(t testing.TB, to string, n int) []Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var got []Message
		for _, msg := range m.Messages(t) {
			if to == "" || len(msg.To) == 1 && msg.To[0].Address == to {
				got = append(got, msg)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
	}
}

// Text is a message's plain-text body.
func (m *Mail) Text(t testing.TB, id string) string {
	t.Helper()
	var full struct{ Text string }
	GetJSON(t, m.API+"/api/v1/message/"+id, &full)
	return full.Text
}

// GetJSON decodes the JSON answer of GET u into v.
func GetJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(fmt.Errorf("GET %s: %w", u, err))
	}
}

// Receiver is a webhook target that keeps the JSON bodies it receives,
// by URL path, each with its signature checked against the secret set
// for its path (SetSecret).
type Receiver struct {
	mu      sync.Mutex
	secrets map[string]string
	bodies  map[string][]map[string]any
	errs    []string
	fail    map[string]int
}

// Fail makes the next n posts to path answer 502 Bad Gateway, kept
// nowhere.
func (rc *Receiver) Fail(path string, n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fail == nil {
		rc.fail = map[string]int{}
	}
	rc.fail[path] = n
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fail[r.URL.Path] > 0 {
		rc.fail[r.URL.Path]--
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	if err := webhook.Verify(rc.secrets[r.URL.Path], r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rc.errs = append(rc.errs, r.URL.Path+": "+err.Error())
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		rc.errs = append(rc.errs, r.URL.Path+": not JSON: "+string(body))
	}
	if rc.bodies == nil {
		rc.bodies = map[string][]map[string]any{}
	}
	rc.bodies[r.URL.Path] = append(rc.bodies[r.URL.Path], m)
}

// SetSecret sets the secret that path's bodies are signed with.
func (rc *Receiver) SetSecret(path, secret string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.secrets == nil {
		rc.secrets = map[string]string{}
	}
	rc.secrets[path] = secret
}

// Received is what path received, oldest first, and every signature or
// body fault seen on any path.
func (rc *Receiver) Received(path string) ([]map[string]any, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.bodies[path]...), append([]string(nil), rc.errs...)
}
