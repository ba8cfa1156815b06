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
	th.fail(now, "email:victim")
	th.fail(now, "email:victim")
	if th.locked(now, "email:victim") == 0 {
		t.Fatal("two failures of two allowed: not locked")
	}
	th.fail(now, "ip:a", "ip:b")
	if th.locked(now, "email:victim") == 0 {
		t.Error("a full throttle wiped the lock in force")
	}
	if th.locked(now.Add(time.Minute), "email:victim") != 0 {
		t.Error("still locked after the window")
	}
	th.fail(now, "email:victim")
	th.fail(now, "email:victim")
	th.fail(now, "ip:c")
	if got := th.fails.Len(); got != 3 {
		t.Errorf("throttle holds %d keys, want at most 3", got)
	}
	if th.locked(now, "email:victim") == 0 {
		t.Error("the most recent lock was pushed out before older keys")
	}
	th.fail(now, "ip:d", "ip:e", "ip:f")
	if th.locked(now, "email:victim") != 0 {
		t.Error("three newer keys did not push out the oldest")
	}
}
