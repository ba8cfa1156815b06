package cli_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/cli"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestCollectionsAndClientsCommands(t *testing.T) {
	data := t.TempDir()
	r := run(t, nil, "clients", "create", "--data", data, "--name", "Mobile app", "--collection", "Orders", "--type", "recipe")
	if r.code != 0 || !regexp.MustCompile(`^ulc_[A-Za-z0-9_-]{43}\n$`).MatchString(r.stdout) {
		t.Fatalf("clients create: %d %q %q; want the token alone on stdout", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, `created recipe collection "Orders"`) {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = run(t, nil, "collections", "create", "--data", data, "Billing", "--endpoint", "GET /invoices/{id}", "--community", "Finance")
	if r.code != 0 {
		t.Fatalf("collections create: %d %s", r.code, r.stderr)
	}
	if r := run(t, nil, "collections", "create", "--data", data, "Billing"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate collection: %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, "collections", "create", "--data", data, "X", "--endpoint", "invoices"); r.code != 2 || !strings.Contains(r.stderr, `endpoint "invoices"`) {
		t.Errorf("bad endpoint: %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, "collections", "deactivate", "--data", data, "Billing"); r.code != 0 {
		t.Errorf("deactivate: %d %q", r.code, r.stderr)
	}
	r = run(t, nil, "collections", "list", "--data", data)
	if !regexp.MustCompile(`Billing\s+proxy\s+inactive\s+GET /invoices/\{id\}`).MatchString(r.stdout) || !regexp.MustCompile(`Orders\s+recipe\s+active\s+any endpoint`).MatchString(r.stdout) {
		t.Errorf("collections list:\n%s", r.stdout)
	}
	r = run(t, nil, "clients", "list", "--data", data)
	id := strings.Fields(r.stdout)[0]
	if !strings.HasPrefix(id, "cli_") || !strings.Contains(r.stdout, "Mobile app") {
		t.Fatalf("clients list:\n%s", r.stdout)
	}
	if r := run(t, nil, "clients", "revoke", "--data", data, id); r.code != 0 {
		t.Errorf("revoke: %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, "clients", "list", "--data", data, "--collection", "Orders"); !strings.Contains(r.stdout, "revoked") {
		t.Errorf("after revoke:\n%s", r.stdout)
	}
	if r := run(t, nil, "clients", "create", "--data", data, "--name", "x"); r.code != 2 {
		t.Errorf("missing --collection: %d", r.code)
	}
	if r := run(t, nil, "gateway", "--data", data, "--collection", "Orders", "--upstream", "ftp://x"); r.code != 2 || !strings.Contains(r.stderr, "--upstream") {
		t.Errorf("bad upstream: %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, "gateway", "--data", data, "--collection", "Orders", "--upstream", "http://127.0.0.1:1", "--type", "proxy", "--listen", "127.0.0.1:0"); r.code != 2 || !strings.Contains(r.stderr, "is a recipe collection") {
		t.Errorf("type mismatch: %d %q", r.code, r.stderr)
	}
}

// freeAddr returns a loopback address nothing listens on, so that a server
// can be stopped and started again at the same place.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestGatewayDeliversAcrossServerRestart runs a gateway that records to a
// usagelog server, stops the server mid-run and starts it again: every
// call, the ones made while it was down included, ends up stored once.
func TestGatewayDeliversAcrossServerRestart(t *testing.T) {
	data := t.TempDir()
	clientToken := strings.TrimSpace(run(t, nil, "clients", "create", "--data", data, "--name", "app", "--collection", "Orders").stdout)
	serverToken := strings.TrimSpace(run(t, nil, "keys", "create", "--data", data, "--name", "gateway", "--scope", "EVENTS_WRITE").stdout)
	addr := freeAddr(t)
	srv := startServer(t, "--data", data, "--addr", addr)

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errb := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	spool := filepath.Join(t.TempDir(), "spool")
	go func() {
		done <- cli.Run(ctx, []string{"gateway", "--listen", "127.0.0.1:0", "--upstream", upstream.URL, "--collection", "Orders",
			"--server", "http://" + addr, "--token", serverToken, "--spool", spool, "--refresh", "100ms", "--rate-limit", "0"},
			cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errb, Getenv: func(string) string { return "" }})
	}()
	var gw string
	re := regexp.MustCompile(`listening on (http://\S+),`)
	for deadline := time.Now().Add(30 * time.Second); gw == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			gw = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("gateway did not start: %s %s", out, errb)
		}
		time.Sleep(10 * time.Millisecond)
	}

	sent := 0
	burst := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/orders/%d-%d", gw, sent, i), nil)
				req.Header.Set("Authorization", "Bearer "+clientToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("call through the gateway: %v", err)
		}
		sent += n
	}

	burst(300)
	srv.stop(t) // the store goes away mid-run
	burst(300)  // the gateway keeps answering
	// The gateway spools what it could not deliver once its tries fail:
	// wait for a file there, with a deadline.
	for spoolDeadline := time.Now().Add(30 * time.Second); ; {
		if files, _ := os.ReadDir(spool); len(files) > 0 {
			break
		}
		if time.Now().After(spoolDeadline) {
			t.Fatal("nothing spooled in 30 s while the server was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv = startServer(t, "--data", data, "--addr", addr)
	burst(100)
	deadline := time.Now().Add(60 * time.Second)
	for {
		files, _ := os.ReadDir(spool)
		if len(files) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d files", len(files))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel() // SIGTERM: the gateway flushes before it exits
	if code := <-done; code != 0 {
		t.Fatalf("gateway exited %d: %s", code, errb)
	}
	srv.stop(t)

	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(data, "usagelog.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ws, _ := st.WorkspaceByName(context.Background(), usage.DefaultWorkspace)
	n, err := st.CountLogs(context.Background(), ws.ID, usage.LogFilter{Collections: []string{"Orders"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(sent) {
		t.Errorf("stored %d gateway calls, want %d (every one, once)", n, sent)
	}
}
