package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRelease builds this platform's release binary with
// scripts/release.sh (linux/amd64 in CI), checks its version stamp and
// checksum, and serves the demo from it.
func TestRelease(t *testing.T) {
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("bash", "../../scripts/release.sh", "v0.0.1-test")
	cmd.Env = append(os.Environ(), "TARGETS="+platform, "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	exe := "usagelog"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(dist, "usagelog_v0.0.1-test_"+runtime.GOOS+"_"+runtime.GOARCH, exe)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^usagelog v0\.0\.1-test \(commit [0-9a-f]{40}(-dirty)?, built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, go1\.[^)]+\)\n$`).Match(out) {
		t.Errorf("version: %q", out)
	}
	if runtime.GOOS == "linux" {
		if out, err := exec.Command("ldd", bin).CombinedOutput(); err == nil || !strings.Contains(string(out), "not a dynamic executable") {
			t.Errorf("ldd: %s (want a static binary)", out)
		}
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil || !strings.Contains(string(sums), "usagelog_v0.0.1-test_"+runtime.GOOS+"_"+runtime.GOARCH) {
		t.Errorf("SHA256SUMS: %q %v", sums, err)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v %s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--demo", "--demo-scale", "0.01")
	stdout, _ := serve.StdoutPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Signal(os.Interrupt); serve.Wait() }()
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatal("serve printed no address")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	resp, err := http.Get(url + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Version != "v0.0.1-test" {
		t.Errorf("/version: %+v %v", v, err)
	}
}
