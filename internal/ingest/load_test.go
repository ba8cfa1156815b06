package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

// ndjsonLines is n valid user_seen events with ids 0..n-1, and an invalid
// line after each id in bad.
func ndjsonLines(n int, bad ...int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"kind":"user_seen","id":"%d","time":"2026-01-01T00:00:00Z","system":"Jira"}`+"\n", i)
		if slices.Contains(bad, i) {
			b.WriteString("{not json\n")
		}
	}
	return b.String()
}

func TestLoad(t *testing.T) {
	errDown := errors.New("store down")
	tests := []struct {
		name      string
		events    int
		bad       []int
		batch     int
		failAt    int // the store fails its nth call (from 1); 0 never
		cancel    bool
		batches   []int // sizes the store saw
		sum       Summary
		rejectsAt []int
		err       error
	}{
		{name: "one batch", events: 7, batch: 10, batches: []int{7}, sum: Summary{Accepted: 7}},
		{name: "exact batches", events: 20, batch: 10, batches: []int{10, 10}, sum: Summary{Accepted: 20}},
		{name: "many batches and a rest", events: 53, batch: 10, batches: []int{10, 10, 10, 10, 10, 3}, sum: Summary{Accepted: 53}},
		{name: "rejects in order, batches of valid events", events: 12, bad: []int{0, 10}, batch: 5, batches: []int{5, 5, 2}, sum: Summary{Accepted: 12, Rejected: 2}, rejectsAt: []int{2, 13}},
		{name: "store fails: earlier batches stand", events: 50, batch: 10, failAt: 2, batches: []int{10, 10}, sum: Summary{Accepted: 10}, err: errDown},
		{name: "cancelled", events: 50, batch: 10, cancel: true, err: context.Canceled},
		{name: "empty body", events: 0, batch: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			var seen []int
			var ids []string
			store := func(_ context.Context, batch []usage.Event) (usage.AppendResult, error) {
				seen = append(seen, len(batch))
				if len(seen) == tt.failAt {
					return usage.AppendResult{}, errDown
				}
				for _, e := range batch {
					ids = append(ids, e.ID)
				}
				return usage.AppendResult{Inserted: len(batch)}, nil
			}
			var rejects []int
			dec := NewDecoder(strings.NewReader(ndjsonLines(tt.events, tt.bad...)), NDJSON)
			sum, err := Load(ctx, dec, tt.batch, store, func(r Record) { rejects = append(rejects, r.Line) })
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.cancel {
				return // how far a cancelled load got is a race; only its error is given
			}
			if sum != tt.sum || !slices.Equal(seen, tt.batches) || !slices.Equal(rejects, tt.rejectsAt) {
				t.Fatalf("summary %+v, batches %v, rejects %v; want %+v, %v, %v", sum, seen, rejects, tt.sum, tt.batches, tt.rejectsAt)
			}
			if tt.err == nil {
				for i, id := range ids {
					if id != fmt.Sprint(i) {
						t.Fatalf("event %d stored as id %s: batches out of order or mixed", i, id)
					}
				}
			}
		})
	}
}

// TestLoadReusesNoEvents: buffers go back to a pool between loads; a load
// must see only its own events.
func TestLoadReusesNoEvents(t *testing.T) {
	for round := range 5 {
		n := 3 + round*7
		var got []string
		store := func(_ context.Context, batch []usage.Event) (usage.AppendResult, error) {
			for _, e := range batch {
				got = append(got, e.ID)
			}
			return usage.AppendResult{Inserted: len(batch)}, nil
		}
		dec := NewDecoder(strings.NewReader(ndjsonLines(n)), NDJSON)
		if _, err := Load(context.Background(), dec, 10, store, nil); err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("round %d: stored %d events, want %d", round, len(got), n)
		}
	}
}
