package eventsql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

// idRows are n rows whose id is the query's name and the row's number.
type idRows struct {
	name string
	i, n int
	err  error // from Err, after the rows
}

func (r *idRows) Next() bool { r.i++; return r.i <= r.n }
func (r *idRows) Scan(dest ...any) error {
	*dest[0].(*string) = fmt.Sprintf("%s/%d", r.name, r.i)
	return nil
}
func (r *idRows) Err() error   { return r.err }
func (r *idRows) Close() error { return nil }

// idQueries are queries of sizes rows, named q0, q1, …; the query at
// failAt (if any) fails after its rows with boom. want is every id in
// order.
func idQueries(sizes []int, failAt int, boom error) (queries []func(context.Context) (Rows, error), want []string) {
	for q, n := range sizes {
		name := fmt.Sprintf("q%d", q)
		var err error
		if q == failAt {
			err = boom
		}
		queries = append(queries, func(context.Context) (Rows, error) { return &idRows{name: name, n: n, err: err}, nil })
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("%s/%d", name, i))
		}
	}
	return queries, want
}

func TestStreamOrdered(t *testing.T) {
	cols, err := Projection(APIColumns, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	sizes := []int{0, 5, OrderedRows + 3, 3 * scanBatch, 1, 0, scanBatch - 1, OrderedRows * 2, 7}
	for _, tc := range []struct {
		name    string
		workers int
		sizes   []int
		failAt  int
	}{
		{"one worker", 1, sizes, -1},
		{"two workers", 2, sizes, -1},
		{"three workers", 3, sizes, -1},
		{"more workers than queries", 16, sizes, -1},
		{"one query", 4, []int{OrderedRows * 3}, -1},
		{"no query", 4, nil, -1},
		{"a query fails", 2, sizes, 3},
		{"the first query fails", 3, sizes, 0},
		{"the last query fails", 2, sizes, len(sizes) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queries, want := idQueries(tc.sizes, tc.failAt, boom)
			var got []string
			var gotErr error
			for e, err := range StreamOrdered(context.Background(), usage.KindAPIRequest, cols, tc.workers, queries...) {
				if err != nil {
					gotErr = err
					break
				}
				got = append(got, e.ID)
			}
			if tc.failAt < 0 && !slices.Equal(got, want) {
				t.Errorf("got %d ids, want %d in order (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
			if tc.failAt >= 0 {
				// The rows before the failed query, maybe some of its
				// own, in order, then its error.
				before := 0
				for _, n := range tc.sizes[:tc.failAt] {
					before += n
				}
				if len(got) < before || len(got) > before+tc.sizes[tc.failAt] || !slices.Equal(got, want[:len(got)]) {
					t.Errorf("got %d ids (first difference at %d), want the %d before the failed query in order", len(got), firstDiff(got, want), before)
				}
			}
			if tc.failAt >= 0 && !errors.Is(gotErr, boom) {
				t.Errorf("got error %v, want boom", gotErr)
			}
			if tc.failAt < 0 && gotErr != nil {
				t.Errorf("got error %v", gotErr)
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A caller that stops early, or a cancel, ends the stream: the iterator
// returns (its goroutines gone), and a cancel is an error within
// cancelEvery events.
func TestStreamOrderedStops(t *testing.T) {
	cols, err := Projection(APIColumns, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	queries, _ := idQueries([]int{OrderedRows, OrderedRows, OrderedRows, OrderedRows}, -1, nil)
	n := 0
	for _, err := range StreamOrdered(context.Background(), usage.KindAPIRequest, cols, 2, queries...) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, after := 0, 0
	var got error
	for _, err := range StreamOrdered(ctx, usage.KindAPIRequest, cols, 2, queries...) {
		if err != nil {
			got = err
			break
		}
		if n++; n == 10 {
			cancel()
		} else if n > 10 {
			after++
		}
	}
	if !errors.Is(got, context.Canceled) {
		t.Errorf("got %v after %d events, want context.Canceled", got, n)
	}
	if after > cancelEvery {
		t.Errorf("%d events after the cancel, want at most %d", after, cancelEvery)
	}
}
