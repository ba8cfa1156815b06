package usage_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/demo"
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
	for i := range calls {
		switch e := &calls[i]; {
		case i%10 == 0:
			e.URL += "?access_token=" + fmt.Sprintf("%032x", i)
		case i%50 == 1:
			e.URL += "/members/user" + strconv.Itoa(i) + "@example.com"
		case i%50 == 2:
			e.UserAgent += " key=" + strconv.Itoa(i)
		}
	}
	rd := defaultRedactor(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := calls[i%n]
		rd.Event(&e)
	}
}
