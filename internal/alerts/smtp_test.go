package alerts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mailpit starts Mailpit (USAGELOG_TEST_MAILPIT, which scripts/test.sh
// installs, or mailpit on PATH) with STARTTLS required on a certificate
// that pool trusts, and returns its SMTP address and API URL. The test
// fails, never skips, without it.
func mailpit(t *testing.T) (smtpAddr, api string, pool *x509.CertPool) {
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
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
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
	api = "http://" + httpAddr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(api + "/api/v1/messages"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Mailpit did not answer")
		}
	}
	return smtpAddr, api, pool
}

// TestSMTPMailpit: a message goes through STARTTLS and authentication to
// a real SMTP server, with its subject, recipients and body as written.
func TestSMTPMailpit(t *testing.T) {
	addr, api, pool := mailpit(t)
	s, err := ParseSMTP("smtp://alerts:secret@"+addr, "usagelog@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = pool
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	r := &Rule{ID: "al_1", Name: "Zahlungen über Limit\r\nBcc: evil@example.com", Metric: MetricCalls, Op: ">", Threshold: 1000,
		Window: time.Hour, Filters: url.Values{"collection": {"Payments"}}}
	m := &Message{Rule: r, Notice: Fired, Status: Status{State: Firing}, M: Measurement{At: at, Value: 1500, Calls: 1500},
		Link: LogsLink("https://usagelog.example.com", r, at)}
	if err := s.Send(context.Background(), []string{"ops@example.com", "oncall@example.com"}, m); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Messages []struct {
			ID      string
			Subject string
			To      []struct{ Address string }
			Bcc     []struct{ Address string }
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(list.Messages) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Mailpit holds no message")
		}
		getJSON(t, api+"/api/v1/messages", &list)
	}
	got := list.Messages[0]
	if got.Subject != "[FIRING] Zahlungen über Limit  Bcc: evil@example.com: calls 1500 (threshold > 1000, last 1h)" ||
		len(got.To) != 2 || len(got.Bcc) != 0 {
		t.Fatalf("message %+v", got)
	}
	var full struct{ Text string }
	getJSON(t, api+"/api/v1/message/"+got.ID, &full)
	if !strings.Contains(full.Text, "1500 calls in the window to 2026-12-01T09:30:00Z, filtered by collection Payments.") ||
		!strings.Contains(full.Text, "Logs: https://usagelog.example.com/logs?collection=Payments&from=2026-12-01T08%3A30%3A00Z") {
		t.Fatalf("body %q", full.Text)
	}
}

func getJSON(t *testing.T, u string, v any) {
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
