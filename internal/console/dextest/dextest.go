// Package dextest runs Dex, a real OpenID Connect provider, on loopback
// for the SSO tests: memory storage, static password users and static
// clients. USAGELOG_TEST_DEX names the binary (scripts/test.sh sets it);
// without it, scripts/dex.sh builds it once into its cache.
package dextest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Password is every static user's password.
const Password = "dex password"

// Client is a static client of the provider.
type Client struct {
	ID, Secret string
	// RedirectURIs are the callbacks the provider accepts for it.
	RedirectURIs []string
}

// Dex is a running provider.
type Dex struct {
	// Issuer is its URL, what --oidc-issuer takes.
	Issuer string
	cmd    *exec.Cmd
}

// FreeAddr is a loopback address nothing listens on yet.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs Dex with users (emails, each with Password) and clients; it
// stops when the test ends.
func Start(t testing.TB, users []string, clients ...Client) *Dex {
	t.Helper()
	bin := os.Getenv("USAGELOG_TEST_DEX")
	if bin == "" {
		bin = build(t)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), 10) // Dex refuses cheaper hashes
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	issuer := "http://" + addr + "/dex"
	var b strings.Builder
	fmt.Fprintf(&b, "issuer: %s\nstorage:\n  type: memory\nweb:\n  http: %s\n", issuer, addr)
	b.WriteString("oauth2:\n  skipApprovalScreen: true\n  passwordConnector: local\nenablePasswordDB: true\nlogger:\n  level: warn\n")
	b.WriteString("staticPasswords:\n")
	for i, u := range users {
		fmt.Fprintf(&b, "- email: %q\n  hash: %q\n  username: %q\n  userID: \"user-%d\"\n", u, hash, strings.Split(u, "@")[0], i)
	}
	b.WriteString("staticClients:\n")
	for _, c := range clients {
		fmt.Fprintf(&b, "- id: %q\n  secret: %q\n  name: %q\n  redirectURIs:\n", c.ID, c.Secret, c.ID)
		for _, u := range c.RedirectURIs {
			fmt.Fprintf(&b, "  - %q\n", u)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dex.yaml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Dex{Issuer: issuer, cmd: exec.Command(bin, "serve", conf)}
	logf, err := os.Create(filepath.Join(dir, "dex.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("dex did not start: %v\n%s", err, log)
		}
	}
}

// Stop stops the provider (a provider that is down).
func (d *Dex) Stop() {
	if d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
}

// build runs scripts/dex.sh, which builds Dex once (about 3 minutes cold)
// and prints its path.
func build(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "dex.sh")
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("building Dex with %s: %v", script, err)
	}
	return strings.TrimSpace(string(out))
}
