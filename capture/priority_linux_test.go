package capture

import (
	"syscall"
	"testing"
)

// TestBackgroundNice: the recorder's goroutines run on a thread of their
// own at lower priority, and the caller's thread is left alone.
func TestBackgroundNice(t *testing.T) {
	nice := func() int {
		// The raw system call answers 20 minus the niceness.
		p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			t.Error(err)
		}
		return 20 - p
	}
	before := make(chan int)
	got := make(chan int)
	go func() {
		before <- nice()
		background()
		got <- nice()
	}()
	start := <-before
	if n := <-got; n != max(start, backgroundNice) {
		t.Fatalf("niceness after background() = %d, want %d", n, backgroundNice)
	}
	if n := nice(); n != start {
		t.Fatalf("the test's own thread went from niceness %d to %d", start, n)
	}
}
