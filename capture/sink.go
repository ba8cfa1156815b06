package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Server delivers batches to a usagelog server's POST /api/v1/events with a
// key that has the EVENTS_WRITE scope. A refusal of the batch itself (400,
// 413, 422) is final; anything else (unreachable, 5xx, 401 while a key is
// being fixed, 429) is tried again.
func Server(baseURL, token string, hc *http.Client) Sink {
	if hc == nil {
		hc = &http.Client{}
	}
	return &serverSink{c: &ingest.Client{BaseURL: baseURL, Token: token, HTTP: hc}}
}

type serverSink struct{ c *ingest.Client }

func (s *serverSink) Send(ctx context.Context, events []usage.Event) error {
	res, err := s.c.Send(ctx, events)
	var se *ingest.ServerError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
	}
	if err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		return fmt.Errorf("%w: %d of %d events, first: line %d: %s", ErrRejected, len(res.Rejected), len(events), res.Rejected[0].Line, res.Rejected[0].Error)
	}
	return nil
}

// Store delivers batches into an event store through ingest's rules: each
// event is validated and normalised by ingest.Check, which gives what
// POST /api/v1/events and `usagelog ingest` give for the same event as
// NDJSON, and appended like any other.
func Store(events usage.EventStore, workspaceID int64, log *slog.Logger) Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &storeSink{events: events, ws: workspaceID, log: log}
}

type storeSink struct {
	events usage.EventStore
	ws     int64
	log    *slog.Logger
}

func (s *storeSink) Send(ctx context.Context, events []usage.Event) error {
	batch := make([]usage.Event, 0, min(len(events), yieldEvery))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.events.Append(ctx, s.ws, batch)
		batch = batch[:0]
		runtime.Gosched() // see yieldEvery
		return err
	}
	rejected := 0
	var first error
	for i := range events {
		e, err := ingest.Check(&events[i])
		if err != nil {
			if rejected++; first == nil {
				first = err
			}
			continue
		}
		if batch = append(batch, e); len(batch) == yieldEvery {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if rejected > 0 {
		return fmt.Errorf("%w: %d of %d events, first: %v", ErrRejected, rejected, len(events), first)
	}
	return nil
}
