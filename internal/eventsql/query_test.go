package eventsql

import (
	"context"
	"errors"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

// nilRows is a driver's rows type; a failed query may return it as a
// typed nil inside the Rows interface.
type nilRows struct{}

func (*nilRows) Next() bool        { return false }
func (*nilRows) Scan(...any) error { return nil }
func (*nilRows) Err() error        { return nil }
func (r *nilRows) Close() error    { _ = *r; return nil } // panics on nil, as *sql.Rows does
func failing(err error) func(context.Context) (Rows, error) {
	return func(context.Context) (Rows, error) { return (*nilRows)(nil), err }
}

// A query that fails, first or after another, is an error from the
// stream, never a Close on what it returned.
func TestStreamQueryFails(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context) (Rows, error) { return &nilRows{}, nil }
	for name, queries := range map[string][]func(context.Context) (Rows, error){
		"first":  {failing(boom)},
		"second": {ok, failing(boom)},
	} {
		t.Run(name, func(t *testing.T) {
			var got error
			for _, err := range Stream(context.Background(), usage.KindAPIRequest, APIColumns, queries...) {
				got = err
			}
			if !errors.Is(got, boom) {
				t.Fatalf("got %v, want boom", got)
			}
		})
	}
}

// countRows are n empty rows.
type countRows struct{ n int }

func (r *countRows) Next() bool      { r.n--; return r.n >= 0 }
func (*countRows) Scan(...any) error { return nil }
func (*countRows) Err() error        { return nil }
func (*countRows) Close() error      { return nil }

// A cancel stops a stream within cancelEvery events, with the context's
// error: also when every row was read before the cancel and only the
// yielding is left, which must not end as if the rows were all there.
func TestStreamCancel(t *testing.T) {
	for _, rows := range []int{100_000, scanBatch} {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		query := func(context.Context) (Rows, error) { return &countRows{rows}, nil }
		n, after := 0, 0
		var got error
		for e, err := range Stream(ctx, usage.KindAPIRequest, APIColumns, query) {
			if err != nil {
				got = err
				break
			}
			if e == nil {
				t.Fatal("nil event")
			}
			if n++; n == 10 {
				cancel()
			} else if n > 10 {
				after++
			}
		}
		if !errors.Is(got, context.Canceled) {
			t.Errorf("%d rows: got %v after %d events, want context.Canceled", rows, got, n)
		}
		if after > cancelEvery {
			t.Errorf("%d rows: %d events after the cancel, want at most %d", rows, after, cancelEvery)
		}
	}
}
