package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := Read()
	if in.Version == "" || in.Commit == "" || in.Date == "" || in.Go != runtime.Version() {
		t.Errorf("unstamped build: %+v", in)
	}
	version, commit, date = "v1.2.3", "abc123", "2026-11-26T00:00:00Z"
	defer func() { version, commit, date = "", "", "" }()
	in = readInfo()
	if want := "usagelog v1.2.3 (commit abc123, built 2026-11-26T00:00:00Z, " + runtime.Version() + ")"; in.String() != want {
		t.Errorf("stamped: %q, want %q", in.String(), want)
	}
	if !strings.HasPrefix(in.Commit, "abc123") {
		t.Errorf("commit %q", in.Commit)
	}
}
