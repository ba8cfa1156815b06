package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestExportSlots(t *testing.T) {
	s := &exportSlots{max: 2, running: map[int64]int{}}
	r1, err1 := s.acquire(httptest.NewRecorder(), 1)
	r2, err2 := s.acquire(httptest.NewRecorder(), 1)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := s.acquire(httptest.NewRecorder(), 1); usage.ErrorCode(err) != usage.ERateLimited {
		t.Errorf("third export in workspace 1: %v, want rate_limited", err)
	}
	if r3, err := s.acquire(httptest.NewRecorder(), 2); err != nil {
		t.Errorf("another workspace is not limited by workspace 1: %v", err)
	} else {
		r3()
	}
	r1()
	if r4, err := s.acquire(httptest.NewRecorder(), 1); err != nil {
		t.Errorf("after a release: %v", err)
	} else {
		r4()
	}
	r2()
	if len(s.running) != 0 {
		t.Errorf("slots left: %v", s.running)
	}
}
