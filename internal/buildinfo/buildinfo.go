// Package buildinfo says which build of usagelog is running: the release
// script stamps the version, commit and date with -ldflags; a build
// without them (go run, go install) reads what the Go toolchain recorded.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set by scripts/release.sh:
//
//	-ldflags "-X github.com/usagelog/usagelog/internal/buildinfo.version=v1.0.0 …"
var version, commit, date string

// Info is a build's identity.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
}

// Read returns this build's identity: the stamps where the release script
// set them, else the module version and the VCS revision and time Go
// recorded, else "devel" and "unknown". It is read once: every console
// page and health probe shows it.
func Read() Info { return read() }

var read = sync.OnceValue(readInfo)

func readInfo() Info {
	in := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.Date == "" {
					in.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && in.Commit != "" {
			in.Commit += "-dirty"
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	if in.Date == "" {
		in.Date = "unknown"
	}
	return in
}

// String is the one line `usagelog version` prints.
func (in Info) String() string {
	return fmt.Sprintf("usagelog %s (commit %s, built %s, %s)", in.Version, in.Commit, in.Date, in.Go)
}
