package usage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/demo"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkRedactEvent is the default redaction of one of the demo's
// calls, one in ten with a secret in its query, one in fifty with an email
// in its path and one in fifty with a key in its user agent (as
// BenchmarkIngestRedaction sends them): ns/op is a call's cost, against
// the several microseconds a call costs ingest.
func BenchmarkRedactEvent(b *testing.B) {
	const n = 10_000
	var calls []usage.Event
	enough := errors.New("enough")
	demo.Generate(context.Background(), demo.Config{Seed: 1, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, func(_ context.Context, batch []usage.Event) error {
		for _, e := range batch {
			if e.Kind == usage.KindAPIRequest && len(calls) < n {
				calls = append(calls, e)
			}
		}
		if len(calls) == n {
			return enough
		}
		return nil
	})
	storetest.Leaky(calls)
	rd := defaultRedactor(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := calls[i%n]
		rd.Event(&e)
	}
}
