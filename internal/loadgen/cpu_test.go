package loadgen

import (
	"runtime"
	"testing"
	"time"
)

func TestCPUString(t *testing.T) {
	tests := []struct {
		c    CPU
		want string
	}{
		{CPU{}, ""},
		{CPU{total: 200, idle: 100, steal: 50}, "; machine busy 25%, taken by the host 25%"},
		{CPU{total: 100, idle: 100}, "; machine busy 0%, taken by the host 0%"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.c, got, tt.want)
		}
	}
	if got := (CPU{total: 500, idle: 300, steal: 20}).Since(CPU{total: 300, idle: 200, steal: 10}); got != (CPU{200, 100, 10}) {
		t.Errorf("Since: %+v", got)
	}
}

func TestReadCPU(t *testing.T) {
	c := ReadCPU()
	if runtime.GOOS == "linux" && c.total == 0 {
		t.Fatal("no CPU time read from /proc/stat")
	}
	if c.idle > c.total || c.steal > c.total {
		t.Fatalf("parts over the total: %+v", c)
	}
}

func TestProcessCPU(t *testing.T) {
	before := ProcessCPU()
	if runtime.GOOS != "linux" {
		// No /proc/self/stat: unknown, as ReadCPU's zero.
		if before != 0 {
			t.Fatalf("process CPU %v without /proc", before)
		}
		return
	}
	// Spin until the process has used CPU time the kernel counts (ticks of
	// 10 ms), with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for ProcessCPU() <= before {
		for i := range 1_000_000 {
			x += i
		}
		if time.Now().After(deadline) {
			t.Fatalf("process CPU stayed at %v for 10 s of spinning (%d)", before, x)
		}
	}
}
