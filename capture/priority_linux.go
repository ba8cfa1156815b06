package capture

import (
	"runtime"
	"syscall"
)

// backgroundNice is the niceness of the recorder's threads: the kernel
// then runs the service's own threads first when both want a processor,
// and the recorder still gets about a tenth of one under full load, more
// than a local store needs at 5,000 calls/s.
const backgroundNice = 10

// background moves the calling goroutine to a thread of its own at lower
// priority. The goroutine must not unlock: when it ends, its thread ends
// with it instead of going back, niced, to the runtime's pool. Delivering
// a batch into SQLite is a millisecond of CPU at a time, and on a small
// machine that was most of the gateway's tail latency
// (scripts/gateway-bench.sh).
func background() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	// Lower only: a service already run at a niceness above ours keeps it.
	// The raw system call answers 20 minus the niceness.
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil && 20-p < backgroundNice {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, backgroundNice)
	}
}
