package capture

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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

func (s *serverSink) Send(ctx context.Context, events []Event) error {
	stored := make([]usage.Event, len(events))
	for i := range events {
		stored[i] = events[i].stored()
	}
	res, err := s.c.Send(ctx, stored)
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
