package console

import (
	"testing"
	"time"
)

// TestThrottleBounded fills a small throttle with other keys: the lock in
// force outlives keys that failed after it until the throttle is full, and
// then only it, the key that failed longest ago, is pushed out.
func TestThrottleBounded(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	th := newThrottle(2, time.Minute, 3)
	th.try(now, "email:victim")
	th.try(now, "email:victim")
	if !locked(th, now, "email:victim") {
		t.Fatal("two failures of two allowed: not locked")
	}
	th.try(now, "ip:a", "ip:b")
	if !locked(th, now, "email:victim") {
		t.Error("a full throttle wiped the lock in force")
	}
	if locked(th, now.Add(time.Minute), "email:victim") {
		t.Error("still locked after the window")
	}
	th.try(now, "email:victim")
	th.try(now, "email:victim")
	th.try(now, "ip:c")
	if got := th.fails.Len(); got != 3 {
		t.Errorf("throttle holds %d keys, want at most 3", got)
	}
	if !locked(th, now, "email:victim") {
		t.Error("the most recent lock was pushed out before older keys")
	}
	th.try(now, "ip:d", "ip:e", "ip:f")
	if locked(th, now, "email:victim") {
		t.Error("three newer keys did not push out the oldest")
	}
}

// locked reads whether key is locked at now without counting an attempt.
func locked(th *throttle, now time.Time, key string) bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	return len(th.recent(now, key)) >= th.max
}
