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
