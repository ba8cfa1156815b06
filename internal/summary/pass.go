package summary

import (
	"context"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Pass returns a Service for many summaries taken at one instant, as an
// alert pass takes them: every window ends at the same moment, so the
// events at their ends are the same few short spans, whatever the
// filters. It reads each span of a workspace once, unfiltered, and
// filters it here (usage.LogFilter.Match, the reference the stores'
// SQL is tested against). A Pass is for one pass: it keeps what it read.
func (s *Service) Pass() *Service {
	return &Service{Rollups: s.Rollups, Events: &sharedEnds{events: s.Events, spans: map[endKey]*endScan{}}}
}

// sharedEnds is the events of a pass (Service.Pass).
type sharedEnds struct {
	events Scanner
	mu     sync.Mutex
	spans  map[endKey]*endScan
}

type endKey struct {
	workspaceID int64
	from, to    int64 // Unix ms
}

// endScan is a span's events, read once: done closes when events or err
// is set.
type endScan struct {
	done   chan struct{}
	fields []string
	events []usage.Event
	err    error
}

// maxSharedSpan bounds the spans kept: a summary's ends are under a
// quarter hour each; a longer scan (a filter on the method, which no
// rollup keeps) goes to the store as it is.
const maxSharedSpan = time.Hour

// matchFields are the fields usage.LogFilter.Match reads.
var matchFields = []string{"time", "status", "client", "collection", "collection_type", "community", "usage_type", "method"}

func (p *sharedEnds) ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	// A filter that names usagelog's own collection selects calls that an
	// unfiltered read leaves out.
	if f.From.IsZero() || f.To.IsZero() || f.To.Sub(f.From) > maxSharedSpan || len(fields) == 0 ||
		slices.Contains(f.Collections, usage.SelfCollection) {
		return p.events.ScanLogs(ctx, workspaceID, f, fields...)
	}
	key := endKey{workspaceID, f.From.UnixMilli(), f.To.UnixMilli()}
	return func(yield func(*usage.Event, error) bool) {
		p.mu.Lock()
		e, ok := p.spans[key]
		if !ok {
			e = &endScan{done: make(chan struct{}), fields: union(fields, matchFields)}
			p.spans[key] = e
		}
		p.mu.Unlock()
		if !ok {
			e.events, e.err = p.read(ctx, workspaceID, f, e.fields)
			if e.err != nil {
				// Not kept: the next summary reads the span again (this
				// one may have failed only because its context ended).
				p.mu.Lock()
				delete(p.spans, key)
				p.mu.Unlock()
			}
			close(e.done)
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			yield(nil, ctx.Err())
			return
		}
		if e.err != nil || !isSubset(fields, e.fields) {
			for ev, err := range p.events.ScanLogs(ctx, workspaceID, f, fields...) {
				if !yield(ev, err) {
					return
				}
			}
			return
		}
		for i := range e.events {
			if !f.Match(&e.events[i]) {
				continue
			}
			ev := e.events[i] // a copy: the caller may reuse it
			if !yield(&ev, nil) {
				return
			}
		}
	}
}

// read is the span of f, unfiltered, with fields.
func (p *sharedEnds) read(ctx context.Context, workspaceID int64, f usage.LogFilter, fields []string) ([]usage.Event, error) {
	var out []usage.Event
	all := usage.LogFilter{From: f.From, To: f.To, TZ: f.TZ}
	for ev, err := range p.events.ScanLogs(ctx, workspaceID, all, fields...) {
		if err != nil {
			return nil, err
		}
		e := *ev
		e.Kind = usage.KindAPIRequest // what ScanLogs yields; Match asks
		out = append(out, e)
	}
	return out, nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func isSubset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}
